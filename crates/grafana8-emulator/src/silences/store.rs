//! silence/silence.go's `silence.Silences` of one org: the silences, their states, and the
//! checks `Set` makes. A module apart from the API so that the database (`state.rs`), which
//! holds each org's store, does not import the HTTP handlers.

use crate::gotime::GoTime;
use crate::http::go_quote;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// notifier/alertmanager.go `retentionNotificationsAndSilences`.
pub(super) const RETENTION_SECS: i64 = 5 * 24 * 3600;

/// silencepb `Matcher_Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

/// A silence's matcher (silencepb `Matcher`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Matcher {
    pub(super) kind: MatchType,
    pub(super) name: String,
    pub(super) pattern: String,
}

/// A stored silence (silencepb `Silence`).
#[derive(Clone, Debug)]
pub(crate) struct Silence {
    pub(super) id: String,
    pub(super) matchers: Vec<Matcher>,
    pub(super) starts_at: GoTime,
    pub(super) ends_at: GoTime,
    pub(super) updated_at: GoTime,
    pub(super) created_by: String,
    pub(super) comment: String,
}

/// silence/silence.go `SilenceState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }

    /// api/v2/api.go `silenceStateOrder`.
    pub(super) fn order(self) -> u8 {
        match self {
            SilenceState::Active => 1,
            SilenceState::Pending => 2,
            SilenceState::Expired => 3,
        }
    }
}

impl Silence {
    /// silence/silence.go `getState`, which `Set`, `canUpdate` and `expire` use: pending
    /// before the start, expired after the end, active at either bound.
    pub(super) fn state(&self, now: GoTime) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// types/types.go `CalcSilenceState`, which the API answers: active only strictly
    /// before the end.
    pub(super) fn api_state(&self, now: GoTime) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// api/v2/compat.go `GettableSilenceFromProto`, written as `GettableSilence.MarshalJSON`
    /// orders it: `id`, `status`, `updatedAt`, then the `Silence` fields.
    pub(super) fn to_json(&self, now: GoTime) -> Value {
        let matchers: Vec<Value> = self
            .matchers
            .iter()
            .map(|m| {
                let (is_equal, is_regex) = match m.kind {
                    MatchType::Equal => (true, false),
                    MatchType::NotEqual => (false, false),
                    MatchType::Regexp => (true, true),
                    MatchType::NotRegexp => (false, true),
                };
                json!({"isEqual": is_equal, "isRegex": is_regex, "name": m.name, "value": m.pattern})
            })
            .collect();
        json!({
            "id": self.id,
            "status": {"state": self.api_state(now).as_str()},
            "updatedAt": self.updated_at.to_millis_string(),
            "comment": self.comment,
            "createdBy": self.created_by,
            "endsAt": self.ends_at.to_millis_string(),
            "matchers": matchers,
            "startsAt": self.starts_at.to_millis_string(),
        })
    }
}

/// One org's `silence.Silences` state.
#[derive(Debug, Default)]
pub(crate) struct OrgSilences {
    pub(super) by_id: BTreeMap<String, Silence>,
}

impl OrgSilences {
    /// silence/silence.go `GC`, which the maintenance loop runs every 15 minutes: a silence
    /// goes once its end is a retention period past. Run before every read here.
    pub(super) fn gc(&mut self, now: GoTime) {
        self.by_id.retain(|_, s| s.ends_at.add_secs(RETENTION_SECS) > now);
    }

    /// silence/silence.go `setSilence`: stamps `UpdatedAt`, validates, stores.
    pub(super) fn set_silence(&mut self, mut sil: Silence, now: GoTime) -> Result<(), String> {
        sil.updated_at = now;
        validate_silence(&sil).map_err(|e| format!("silence invalid: {e}"))?;
        self.by_id.insert(sil.id.clone(), sil);
        Ok(())
    }

    /// silence/silence.go `Set`: an unknown id is `ErrNotFound`; a silence that `canUpdate`
    /// allows is changed in place; otherwise the previous one is expired (unless it already
    /// is) and the silence is stored under a new id, starting no earlier than now.
    pub(super) fn set(&mut self, mut sil: Silence, now: GoTime) -> Result<String, SetError> {
        let prev = self.by_id.get(&sil.id).cloned();
        if !sil.id.is_empty() && prev.is_none() {
            return Err(SetError::NotFound);
        }
        if let Some(prev) = prev {
            if can_update(&prev, &sil, now) {
                let id = sil.id.clone();
                return self.set_silence(sil, now).map(|()| id).map_err(SetError::Invalid);
            }
            if prev.state(now) != SilenceState::Expired {
                self.expire(&prev.id, now).map_err(|e| SetError::Invalid(format!("expire previous silence: {e}")))?;
            }
        }
        sil.id = uuid_v4();
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        let id = sil.id.clone();
        self.set_silence(sil, now).map(|()| id).map_err(SetError::Invalid)
    }

    /// silence/silence.go `expire`: an active silence ends now, a pending one starts and ends
    /// now; an expired one cannot be expired again.
    pub(super) fn expire(&mut self, id: &str, now: GoTime) -> Result<(), ExpireError> {
        let Some(mut sil) = self.by_id.get(id).cloned() else { return Err(ExpireError::NotFound) };
        match sil.state(now) {
            SilenceState::Expired => return Err(ExpireError::Other(format!("silence {id} already expired"))),
            SilenceState::Active => sil.ends_at = now,
            SilenceState::Pending => {
                sil.starts_at = now;
                sil.ends_at = now;
            }
        }
        self.set_silence(sil, now).map_err(ExpireError::Other)
    }
}

pub(super) enum SetError {
    NotFound,
    Invalid(String),
}

pub(super) enum ExpireError {
    NotFound,
    Other(String),
}

impl std::fmt::Display for ExpireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpireError::NotFound => f.write_str("silence not found"),
            ExpireError::Other(e) => f.write_str(e),
        }
    }
}

/// silence/silence.go `canUpdate`: the same matchers (in order), and times that keep the
/// history: an active silence keeps its start and may not end in the past; a pending one
/// may not start in the past; an expired one never changes.
pub(super) fn can_update(a: &Silence, b: &Silence, now: GoTime) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match a.state(now) {
        SilenceState::Active => b.starts_at == a.starts_at && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A random (version 4) UUID, as `uuid.NewV4()` gives silence ids.
pub(super) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

// ---------------------------------------------------------------------------------------------
// Validation

/// silence/silence.go `validateSilence` (the id is always set by the time `Set` calls it).
pub(super) fn validate_silence(s: &Silence) -> Result<(), String> {
    if s.id.is_empty() {
        return Err("ID missing".into());
    }
    if s.matchers.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut all_match_empty = true;
    for (i, m) in s.matchers.iter().enumerate() {
        validate_matcher(m).map_err(|e| format!("invalid label matcher {i}: {e}"))?;
        all_match_empty = all_match_empty && matches_empty(m);
    }
    if all_match_empty {
        return Err("at least one matcher must not match the empty string".into());
    }
    if s.ends_at < s.starts_at {
        return Err("end time must not be before start time".into());
    }
    Ok(())
}

/// silence/silence.go `ValidateMatcher`: a Prometheus label name (prometheus/common v0.32.1
/// `LabelName.IsValid`), and a pattern that compiles for the regex types (label values are
/// valid UTF-8 once decoded from JSON).
pub(super) fn validate_matcher(m: &Matcher) -> Result<(), String> {
    let valid_name = !m.name.is_empty()
        && m.name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (b.is_ascii_digit() && i > 0));
    if !valid_name {
        return Err(format!("invalid label name {}", go_quote(&m.name)));
    }
    if matches!(m.kind, MatchType::Regexp | MatchType::NotRegexp)
        && let Err(e) = go_regexp(&m.pattern)
    {
        return Err(format!("invalid regular expression {}: {e}", go_quote(&m.pattern)));
    }
    Ok(())
}

/// silence/silence.go `matchesEmpty`: `=""`, or a regex that finds a match in the empty
/// string (unanchored, as `regexp.MatchString`).
pub(super) fn matches_empty(m: &Matcher) -> bool {
    match m.kind {
        MatchType::Equal => m.pattern.is_empty(),
        MatchType::Regexp => go_regexp(&m.pattern).is_ok_and(|re| re.is_match("")),
        MatchType::NotEqual | MatchType::NotRegexp => false,
    }
}

/// Compiles a pattern as Go's `regexp.Compile` would accept it, answering a refusal with Go's
/// text, `error parsing regexp: <code>: `<fragment>``, for the codes of regexp/syntax
/// (parse.go `ErrorCode`). The syntax is checked by the `regex` crate, whose RE2 dialect is
/// Go's but for a few corners (see the README's known differences); its error kinds are
/// mapped to Go's codes and fragments.
pub(super) fn go_regexp(pattern: &str) -> Result<regex::Regex, String> {
    use regex_syntax::ast::ErrorKind as A;
    let go = |code: &str, frag: &str| format!("error parsing regexp: {code}: `{frag}`");
    if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
        let (span, kind) = match &e {
            regex_syntax::Error::Parse(a) => ((a.span().start.offset, a.span().end.offset), Some(a.kind().clone())),
            regex_syntax::Error::Translate(h) => ((h.span().start.offset, h.span().end.offset), None),
            _ => ((0, pattern.len()), None),
        };
        let frag = pattern.get(span.0..span.1.max(span.0)).unwrap_or(pattern);
        let msg = match kind {
            Some(A::GroupUnclosed) => go("missing closing )", pattern),
            Some(A::GroupUnopened) => go("unexpected )", pattern),
            Some(A::ClassUnclosed) => go("missing closing ]", pattern.get(span.0..).unwrap_or(pattern)),
            Some(A::RepetitionMissing) => {
                // The operator: one character, or a whole `{n,m}`.
                let rest = pattern.get(span.0..).unwrap_or("");
                let op = match rest.find('}') {
                    Some(end) if rest.starts_with('{') => &rest[..=end],
                    _ => rest.get(..rest.chars().next().map_or(0, char::len_utf8)).unwrap_or(""),
                };
                go("missing argument to repetition operator", op)
            }
            Some(A::EscapeUnexpectedEof) => go("trailing backslash at end of expression", ""),
            Some(A::EscapeUnrecognized | A::EscapeHexEmpty | A::EscapeHexInvalid | A::EscapeHexInvalidDigit) => {
                go("invalid escape sequence", frag)
            }
            Some(A::RepetitionCountInvalid | A::RepetitionCountDecimalEmpty | A::RepetitionCountUnclosed) => {
                go("invalid repeat count", frag)
            }
            Some(A::ClassRangeInvalid | A::ClassRangeLiteral | A::ClassEscapeInvalid) => {
                go("invalid character class range", frag)
            }
            Some(
                A::GroupNameEmpty | A::GroupNameInvalid | A::GroupNameUnexpectedEof | A::GroupNameDuplicate { .. },
            ) => go("invalid named capture", frag),
            Some(A::NestLimitExceeded(_)) => go("expression nests too deeply", frag),
            Some(_) => go("invalid or unsupported Perl syntax", frag),
            // Translation errors are unknown Unicode classes (`\pX`), which Go reports so.
            None => go("invalid character class range", frag),
        };
        return Err(msg);
    }
    let ast = regex_syntax::ast::parse::Parser::new().parse(pattern).map_err(|_| go("missing closing )", pattern))?;
    if let Some((code, span)) = go_repeat_error(&ast) {
        return Err(go(code, pattern.get(span.0..span.1).unwrap_or(pattern)));
    }
    regex::Regex::new(pattern).map_err(|_| go("expression too large", pattern))
}

/// What Go's parser (regexp/syntax parse.go `repeat`) refuses and the `regex` crate takes:
/// a repetition of a repetition (`a**`, `a+{2}`; `*?` is one lazy operator) and a count
/// above 1000. The code and the byte span of Go's fragment.
pub(super) fn go_repeat_error(ast: &regex_syntax::ast::Ast) -> Option<(&'static str, (usize, usize))> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    match ast {
        Ast::Repetition(rep) => {
            if let Ast::Repetition(inner) = &*rep.ast {
                return Some((
                    "invalid nested repetition operator",
                    (inner.op.span.start.offset, rep.op.span.end.offset),
                ));
            }
            if let RepetitionKind::Range(
                RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) | RepetitionRange::Bounded(_, n),
            ) = rep.op.kind
                && n > 1000
            {
                return Some(("invalid repeat count", (rep.op.span.start.offset, rep.op.span.end.offset)));
            }
            go_repeat_error(&rep.ast)
        }
        Ast::Group(g) => go_repeat_error(&g.ast),
        Ast::Alternation(a) => a.asts.iter().find_map(go_repeat_error),
        Ast::Concat(c) => c.asts.iter().find_map(go_repeat_error),
        _ => None,
    }
}
