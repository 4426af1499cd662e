//! RFC 3339 timestamps in one canonical form, so that a definition and Alertmanager's answer
//! compare equal when they name the same instant: Alertmanager keeps the offset the client
//! sent and answers with milliseconds (`2099-01-01T00:00:00.000+02:00`), a definition may say
//! `2098-12-31T22:00:00Z`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a text is not a timestamp this provider accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("`{text}` is not an RFC 3339 timestamp with an offset, such as \"2030-01-31T22:00:00Z\": {reason}")]
    Invalid { text: String, reason: String },
}

/// An instant, at Alertmanager's precision (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|err| TimestampError::Invalid { text: text.to_owned(), reason: err.to_string() })?;
        Ok(Timestamp::from(parsed))
    }

    pub fn now() -> Timestamp {
        Timestamp::from(OffsetDateTime::now_utc())
    }

    /// UTC, `Z`, fractional seconds only when there are any: `2030-01-31T22:00:00Z`.
    pub fn canonical(self) -> String {
        // Formatting a UTC instant of years 0..=9999 as RFC 3339 cannot fail; the fallback
        // only keeps this total.
        self.0.format(&Rfc3339).unwrap_or_else(|_| self.0.to_string())
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(instant: OffsetDateTime) -> Timestamp {
        let utc = instant.to_offset(time::UtcOffset::UTC);
        // Alertmanager answers with milliseconds: finer digits would show as a change forever.
        let millisecond = utc.millisecond();
        Timestamp(utc.replace_millisecond(millisecond).unwrap_or(utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, TimestampError> {
        Timestamp::parse(text).map(Timestamp::canonical)
    }

    #[test]
    fn the_same_instant_has_one_canonical_form_at_millisecond_precision() {
        for (written, expected) in [
            ("2099-01-01T00:00:00Z", "2099-01-01T00:00:00Z"),
            ("2099-01-01T00:00:00.000Z", "2099-01-01T00:00:00Z"),
            ("2099-01-01T02:00:00.000+02:00", "2099-01-01T00:00:00Z"),
            ("2099-01-01T00:00:00.123456789Z", "2099-01-01T00:00:00.123Z"),
            ("2098-12-31T19:30:00-04:30", "2099-01-01T00:00:00Z"),
        ] {
            assert_eq!(canonical(written).as_deref(), Ok(expected), "{written}");
        }
    }

    #[test]
    fn a_timestamp_without_an_offset_is_refused() {
        for text in ["2099-01-01T00:00:00", "2099-01-01", "tomorrow"] {
            assert!(canonical(text).is_err(), "{text}");
        }
    }
}
