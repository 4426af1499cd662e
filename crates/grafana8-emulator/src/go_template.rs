//! A syntax-only port of Go's `text/template/parse` as Grafana 8.5.4 ran it (built with Go
//! 1.17.9, per its Dockerfile): the lexer and parser, the function-existence check with
//! Alertmanager's template functions, and the `template: <name>:<line>: <message>` errors,
//! so that `template_files` are accepted or refused exactly as
//! pkg/services/ngalert/notifier/alertmanager.go `applyConfig` → `templateFromPaths` →
//! prometheus/alertmanager template.FromGlobs does. Nothing is executed.
//!
//! Go 1.17 differs from later versions in ways this port keeps: `break` and `continue` are
//! plain identifiers (keywords since 1.18), `{{else with}}` does not exist (1.23), the lexer
//! emits `)` before reporting an unbalanced paren, and an identifier ends at the first rune
//! of the right delimiter. The vectors in tests/fixtures/go_template_vectors.json pin the
//! messages.

use crate::http::go_quote;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The functions every template can call: Go 1.17's `text/template` builtins
/// (funcs.go `builtins`) and the vendored Alertmanager's `template.DefaultFuncs`.
const FUNCS: &[&str] = &[
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    "toUpper",
    "toLower",
    "title",
    "join",
    "match",
    "safeHtml",
    "reReplaceAll",
    "stringSlice",
];

/// The file Grafana adds to every configuration's templates (alertmanager.go `applyConfig`:
/// `cfg.TemplateFiles["__default__.tmpl"] = channels.DefaultTemplateString`), which parses.
pub(crate) const DEFAULT_TEMPLATE_FILE: &str = "__default__.tmpl";

/// Where Grafana's working directory for org `org_id` is in the official image
/// (`GF_PATHS_DATA=/var/lib/grafana`, notifier `workingDir` "alerting").
fn working_dir(org_id: i64) -> String {
    format!("/var/lib/grafana/alerting/{org_id}")
}

/// What `applyConfig` does with `template_files` before it builds receivers:
/// notifier/config.go `PersistTemplates` checks each name, then template.FromGlobs parses each
/// file path as a glob. The first failure is returned as its Go error text. Grafana walks a
/// Go map, so with several bad files the one reported varies; the emulator goes in name
/// order.
pub(crate) fn check_template_files(org_id: i64, files: &BTreeMap<String, String>) -> Result<(), String> {
    let mut names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    names.insert(DEFAULT_TEMPLATE_FILE);
    for name in &names {
        if *name != go_base(&go_clean(name)) {
            return Err(format!("template file name '{name}' is not valid"));
        }
        // filepath.Join cleans "." and ".." into the directory itself, which
        // ioutil.ReadFile cannot read.
        if *name == "." || *name == ".." {
            let dir = working_dir(org_id);
            let path = if *name == "." { dir } else { go_clean(&format!("{dir}/..")) };
            return Err(format!("read {path}: is a directory"));
        }
    }
    for pattern in &names {
        let matched: Vec<&str> = if pattern.contains(['*', '?', '[', '\\']) {
            // filepath.Glob: a malformed pattern is ErrBadPattern; matches are sorted.
            go_match(pattern, "").map_err(|()| "syntax error in pattern".to_string())?;
            let mut m = vec![];
            for n in &names {
                if go_match(pattern, n).map_err(|()| "syntax error in pattern".to_string())? {
                    m.push(*n);
                }
            }
            m
        } else {
            vec![pattern]
        };
        for name in matched {
            if name == DEFAULT_TEMPLATE_FILE {
                continue;
            }
            if let Some(text) = files.get(name) {
                parse(name, text)?;
            }
        }
    }
    Ok(())
}

/// Parses one template file as `(*Template).Parse` does after `ParseGlob` named it.
pub(crate) fn parse(name: &str, text: &str) -> Result<(), String> {
    let mut lex = Lexer::new(text);
    let mut tree_set: HashMap<String, bool> = HashMap::new();
    let mut t = Tree::new(name, name, &mut lex, &mut tree_set);
    t.parse()?;
    t.add()
}

// ---------------------------------------------------------------------------------------------
// Lexer (lex.go)

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum T {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords appear after all the rest.
    Keyword,
    Block,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

#[derive(Clone, Debug)]
struct Item {
    typ: T,
    val: String,
    line: usize,
}

impl Item {
    /// The zero item a closed channel yields (`itemError`, empty, line 0).
    fn zero() -> Item {
        Item { typ: T::Error, val: String::new(), line: 0 }
    }
}

/// `item.String()`.
fn item_string(i: &Item) -> String {
    match i.typ {
        T::Eof => "EOF".into(),
        T::Error => i.val.clone(),
        t if t > T::Keyword => format!("<{}>", i.val),
        _ if i.val.len() > 10 => format!("{}...", go_quote(&i.val.chars().take(10).collect::<String>())),
        _ => go_quote(&i.val),
    }
}

fn keyword(word: &str) -> Option<T> {
    Some(match word {
        "." => T::Dot,
        "block" => T::Block,
        "define" => T::Define,
        "else" => T::Else,
        "end" => T::End,
        "if" => T::If,
        "range" => T::Range,
        "nil" => T::Nil,
        "template" => T::Template,
        "with" => T::With,
        _ => return None,
    })
}

const EOF: Option<char> = None;
const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
const TRIM_MARKER_LEN: usize = 2;
const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

/// Go 1.17's lexer ran in a goroutine feeding a channel; this one runs its state machine
/// until an item is queued, which yields the same sequence.
struct Lexer<'s> {
    input: &'s str,
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i32,
    line: usize,
    start_line: usize,
    state: Option<State>,
    items: std::collections::VecDeque<Item>,
}

fn is_space(r: Option<char>) -> bool {
    matches!(r, Some(' ' | '\t' | '\r' | '\n'))
}

/// `unicode.IsLetter || unicode.IsDigit || '_'`; Rust's Alphabetic and Numeric properties
/// stand in for Go's L and Nd categories (they also admit Nl, No and a few marks).
fn is_alnum(r: Option<char>) -> bool {
    r.is_some_and(|c| c == '_' || c.is_alphanumeric())
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && matches!(b[1], b' ' | b'\t' | b'\r' | b'\n')
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && matches!(b[0], b' ' | b'\t' | b'\r' | b'\n') && b[1] == b'-'
}

/// Go's `%#U`: `U+0041 'A'`, or `U+0001` when the rune is not printable.
fn go_unicode(c: Option<char>) -> String {
    match c {
        None => "U+FFFFFFFFFFFFFFFF".into(),
        Some(c) if !c.is_control() && crate::http::go_is_print(c) => {
            format!("U+{:04X} '{c}'", c as u32)
        }
        Some(c) => format!("U+{:04X}", c as u32),
    }
}

impl<'s> Lexer<'s> {
    fn new(input: &'s str) -> Lexer<'s> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            width: 0,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            state: Some(State::Text),
            items: Default::default(),
        }
    }

    fn next(&mut self) -> Option<char> {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        let c = self.input[self.pos..].chars().next()?;
        self.width = c.len_utf8();
        self.pos += self.width;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.width == 1 && self.input.as_bytes()[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn emit(&mut self, t: T) {
        self.items.push_back(Item { typ: t, val: self.input[self.start..self.pos].to_string(), line: self.start_line });
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        if self.next().is_some_and(|c| valid.contains(c)) {
            return true;
        }
        self.backup();
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while self.next().is_some_and(|c| valid.contains(c)) {}
        self.backup();
    }

    fn errorf(&mut self, msg: String) -> Option<State> {
        self.items.push_back(Item { typ: T::Error, val: msg, line: self.start_line });
        None
    }

    /// `nextItem`: the next queued item; once the state machine has stopped, the zero item.
    fn next_item(&mut self) -> Item {
        loop {
            if let Some(i) = self.items.pop_front() {
                return i;
            }
            match self.state {
                None => return Item::zero(),
                Some(s) => self.state = self.step(s),
            }
        }
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM), false)
    }

    /// `atTerminator` (Go 1.17: a rune that starts the right delimiter also ends a word).
    fn at_terminator(&mut self) -> bool {
        let r = self.peek();
        if is_space(r) {
            return true;
        }
        match r {
            EOF | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(c) => RIGHT_DELIM.starts_with(c),
        }
    }

    fn step(&mut self, s: State) -> Option<State> {
        match s {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::RightDelim => self.lex_right_delim(),
            State::InsideAction => self.lex_inside_action(),
            State::Space => self.lex_space(),
            State::Identifier => self.lex_identifier(),
            State::Field => self.lex_field_or_variable(T::Field),
            State::Variable => {
                if self.at_terminator() {
                    self.emit(T::Variable);
                    return Some(State::InsideAction);
                }
                self.lex_field_or_variable(T::Variable)
            }
            State::Char => self.lex_char(),
            State::Number => self.lex_number(),
            State::Quote => self.lex_quote(),
            State::RawQuote => self.lex_raw_quote(),
        }
    }

    fn lex_text(&mut self) -> Option<State> {
        self.width = 0;
        if let Some(x) = self.input[self.pos..].find(LEFT_DELIM) {
            self.pos += x;
            let mut trim = 0;
            if has_left_trim_marker(&self.input[self.pos + LEFT_DELIM.len()..]) {
                let text = &self.input[self.start..self.pos];
                trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
            }
            self.pos -= trim;
            if self.pos > self.start {
                self.line += self.input[self.start..self.pos].matches('\n').count();
                self.emit(T::Text);
            }
            self.pos += trim;
            self.ignore();
            return Some(State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += self.input[self.start..self.pos].matches('\n').count();
            self.emit(T::Text);
        }
        self.emit(T::Eof);
        None
    }

    fn lex_left_delim(&mut self) -> Option<State> {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.input[self.pos + after..].starts_with(LEFT_COMMENT) {
            self.pos += after;
            self.ignore();
            return Some(State::Comment);
        }
        self.emit(T::LeftDelim);
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        Some(State::InsideAction)
    }

    fn lex_comment(&mut self) -> Option<State> {
        self.pos += LEFT_COMMENT.len();
        let Some(i) = self.input[self.pos..].find(RIGHT_COMMENT) else {
            return self.errorf("unclosed comment".into());
        };
        self.pos += i + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
        }
        self.ignore();
        Some(State::Text)
    }

    fn lex_right_delim(&mut self) -> Option<State> {
        let trim = has_right_trim_marker(&self.input[self.pos..]);
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        self.emit(T::RightDelim);
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
            self.ignore();
        }
        Some(State::Text)
    }

    fn lex_inside_action(&mut self) -> Option<State> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(State::RightDelim);
            }
            return self.errorf("unclosed left paren".into());
        }
        let r = self.next();
        match r {
            EOF => return self.errorf("unclosed action".into()),
            _ if is_space(r) => {
                self.backup();
                return Some(State::Space);
            }
            Some('=') => self.emit(T::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                self.emit(T::Declare);
            }
            Some('|') => self.emit(T::Pipe),
            Some('"') => return Some(State::Quote),
            Some('`') => return Some(State::RawQuote),
            Some('$') => return Some(State::Variable),
            Some('\'') => return Some(State::Char),
            Some('.') if self.input.as_bytes().get(self.pos).is_some_and(|b| !b.is_ascii_digit()) => {
                return Some(State::Field);
            }
            Some('.' | '+' | '-' | '0'..='9') => {
                self.backup();
                return Some(State::Number);
            }
            _ if is_alnum(r) => {
                self.backup();
                return Some(State::Identifier);
            }
            Some('(') => {
                self.emit(T::LeftParen);
                self.paren_depth += 1;
            }
            Some(')') => {
                self.emit(T::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf(format!("unexpected right paren {}", go_unicode(r)));
                }
            }
            Some(c) if (' '..='~').contains(&c) => self.emit(T::Char),
            _ => return self.errorf(format!("unrecognized character in action: {}", go_unicode(r))),
        }
        Some(State::InsideAction)
    }

    fn lex_space(&mut self) -> Option<State> {
        let mut spaces = 0;
        while is_space(self.peek()) {
            self.next();
            spaces += 1;
        }
        let rest = &self.input[self.pos - 1..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            self.backup();
            if spaces == 1 {
                return Some(State::RightDelim);
            }
        }
        self.emit(T::Space);
        Some(State::InsideAction)
    }

    fn lex_identifier(&mut self) -> Option<State> {
        loop {
            let r = self.next();
            if is_alnum(r) {
                continue;
            }
            self.backup();
            let word = &self.input[self.start..self.pos];
            if !self.at_terminator() {
                return self.errorf(format!("bad character {}", go_unicode(r)));
            }
            match keyword(word) {
                Some(k) => self.emit(k),
                None if word.starts_with('.') => self.emit(T::Field),
                None if word == "true" || word == "false" => self.emit(T::Bool),
                None => self.emit(T::Identifier),
            }
            return Some(State::InsideAction);
        }
    }

    fn lex_field_or_variable(&mut self, typ: T) -> Option<State> {
        if self.at_terminator() {
            self.emit(if typ == T::Variable { T::Variable } else { T::Dot });
            return Some(State::InsideAction);
        }
        let mut r;
        loop {
            r = self.next();
            if !is_alnum(r) {
                self.backup();
                break;
            }
        }
        if !self.at_terminator() {
            return self.errorf(format!("bad character {}", go_unicode(r)));
        }
        self.emit(typ);
        Some(State::InsideAction)
    }

    fn lex_char(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_some() && r != Some('\n') {
                        continue;
                    }
                    return self.errorf("unterminated character constant".into());
                }
                EOF | Some('\n') => return self.errorf("unterminated character constant".into()),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(T::CharConstant);
        Some(State::InsideAction)
    }

    fn lex_number(&mut self) -> Option<State> {
        if !self.scan_number() {
            let bad = go_quote(&self.input[self.start..self.pos]);
            return self.errorf(format!("bad number syntax: {bad}"));
        }
        let sign = self.peek();
        if sign == Some('+') || sign == Some('-') {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let bad = go_quote(&self.input[self.start..self.pos]);
                return self.errorf(format!("bad number syntax: {bad}"));
            }
            self.emit(T::Complex);
        } else {
            self.emit(T::Number);
        }
        Some(State::InsideAction)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alnum(self.peek()) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_some() && r != Some('\n') {
                        continue;
                    }
                    return self.errorf("unterminated quoted string".into());
                }
                EOF | Some('\n') => return self.errorf("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(T::String);
        Some(State::InsideAction)
    }

    fn lex_raw_quote(&mut self) -> Option<State> {
        loop {
            match self.next() {
                EOF => return self.errorf("unterminated raw quoted string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(T::RawString);
        Some(State::InsideAction)
    }
}

// ---------------------------------------------------------------------------------------------
// Parser (parse.go, node.go)

/// The nodes, as far as errors and `IsEmptyTree` need them.
#[derive(Debug)]
enum Node {
    Text(String),
    Action,
    If,
    Range,
    With,
    Template,
    End,
    Else,
}

impl Node {
    fn string(&self) -> &'static str {
        match self {
            Node::End => "{{end}}",
            Node::Else => "{{else}}",
            _ => "",
        }
    }
}

/// `IsEmptyTree` of a list: only whitespace text (comments are not kept).
fn is_empty(list: &[Node]) -> bool {
    list.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

/// The first argument of a command, as `checkPipeline` and `operand` look at it.
#[derive(Debug, PartialEq)]
enum Arg {
    Bool(bool),
    Dot,
    Nil,
    Number(String),
    /// The quoted text.
    Str(String),
    Field,
    Variable,
    Identifier,
    Chain,
    Pipe,
}

impl Arg {
    fn string(&self) -> String {
        match self {
            Arg::Bool(b) => b.to_string(),
            Arg::Dot => ".".into(),
            Arg::Nil => "nil".into(),
            Arg::Number(t) | Arg::Str(t) => t.clone(),
            _ => String::new(),
        }
    }
}

type Res<T> = Result<T, String>;

struct Tree<'a, 's> {
    name: String,
    parse_name: String,
    lex: &'a mut Lexer<'s>,
    tree_set: &'a mut HashMap<String, bool>,
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    action_line: usize,
    root: Vec<Node>,
}

impl<'a, 's> Tree<'a, 's> {
    fn new(
        name: &str,
        parse_name: &str,
        lex: &'a mut Lexer<'s>,
        tree_set: &'a mut HashMap<String, bool>,
    ) -> Tree<'a, 's> {
        Tree {
            name: name.to_string(),
            parse_name: parse_name.to_string(),
            lex,
            tree_set,
            token: [Item::zero(), Item::zero(), Item::zero()],
            peek_count: 0,
            vars: vec!["$".into()],
            action_line: 0,
            root: vec![],
        }
    }

    /// A tree for a `{{define}}` or `{{block}}` body, sharing the lexer (`startParse`).
    fn sub<'b>(&'b mut self, name: &str) -> Tree<'b, 's> {
        let parse_name = self.parse_name.clone();
        Tree::new(name, &parse_name, self.lex, self.tree_set)
    }

    fn next(&mut self) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != T::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> String {
        format!("template: {}:{}: {msg}", self.parse_name, self.token[0].line)
    }

    fn expect(&mut self, expected: T, context: &str) -> Res<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn unexpected(&self, token: &Item, context: &str) -> String {
        if token.typ == T::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.parse_name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{extra}", item_string(token)));
        }
        self.errorf(format!("unexpected {} in {context}", item_string(token)))
    }

    /// `add`: a name may be defined twice in one file only if one definition is empty.
    fn add(&mut self) -> Res<()> {
        let empty = is_empty(&self.root);
        match self.tree_set.get(&self.name) {
            Some(false) if !empty => {
                Err(self.errorf(format!("template: multiple definition of template {}", go_quote(&self.name))))
            }
            Some(false) => Ok(()),
            _ => {
                self.tree_set.insert(self.name.clone(), empty);
                Ok(())
            }
        }
    }

    fn parse(&mut self) -> Res<()> {
        self.peek();
        while self.peek().typ != T::Eof {
            if self.peek().typ == T::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == T::Define {
                    let mut def = self.sub("definition");
                    def.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            let n = self.text_or_action()?;
            if matches!(n, Node::End | Node::Else) {
                return Err(self.errorf(format!("unexpected {}", n.string())));
            }
            self.root.push(n);
        }
        Ok(())
    }

    fn parse_definition(&mut self) -> Res<()> {
        let context = "define clause";
        let name = self.next_non_space();
        if name.typ != T::String && name.typ != T::RawString {
            return Err(self.unexpected(&name, context));
        }
        self.name = unquote(&name.val).map_err(|e| self.errorf(e))?;
        self.expect(T::RightDelim, context)?;
        let (list, end) = self.item_list()?;
        self.root = list;
        if !matches!(end, Node::End) {
            return Err(self.errorf(format!("unexpected {} in {context}", end.string())));
        }
        self.add()
    }

    fn item_list(&mut self) -> Res<(Vec<Node>, Node)> {
        let mut list = vec![];
        self.peek_non_space();
        while self.peek_non_space().typ != T::Eof {
            let n = self.text_or_action()?;
            if matches!(n, Node::End | Node::Else) {
                return Ok((list, n));
            }
            list.push(n);
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> Res<Node> {
        let token = self.next_non_space();
        match token.typ {
            T::Text => Ok(Node::Text(token.val)),
            T::LeftDelim => {
                self.action_line = token.line;
                let n = self.action();
                self.action_line = 0;
                n
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> Res<Node> {
        let token = self.next_non_space();
        match token.typ {
            T::Block => return self.block_control(),
            T::Else => return self.else_control(),
            T::End => return self.end_control(),
            T::If => return self.parse_control(true, "if").map(|()| Node::If),
            T::Range => return self.parse_control(false, "range").map(|()| Node::Range),
            T::Template => return self.template_control(),
            T::With => return self.parse_control(false, "with").map(|()| Node::With),
            _ => {}
        }
        self.backup();
        self.peek();
        self.pipeline("command", T::RightDelim)?;
        Ok(Node::Action)
    }

    /// Returns the first argument of each command.
    fn pipeline(&mut self, context: &str, end: T) -> Res<Vec<Arg>> {
        self.peek_non_space();
        let mut decls = 0;
        loop {
            let v = self.peek_non_space();
            if v.typ != T::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            if next.typ == T::Assign || next.typ == T::Declare {
                self.next_non_space();
                self.vars.push(v.val);
            } else if next.typ == T::Char && next.val == "," {
                self.next_non_space();
                decls += 1;
                self.vars.push(v.val);
                if context == "range" && decls < 2 {
                    match self.peek_non_space().typ {
                        T::Variable | T::RightDelim | T::RightParen => continue,
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if after.typ == T::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        let mut cmds: Vec<Arg> = vec![];
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                // checkPipeline
                if cmds.is_empty() {
                    return Err(self.errorf(format!("missing value for {context}")));
                }
                for (i, first) in cmds.iter().enumerate().skip(1) {
                    if matches!(first, Arg::Bool(_) | Arg::Dot | Arg::Nil | Arg::Number(_) | Arg::Str(_)) {
                        return Err(self.errorf(format!("non executable command in pipeline stage {}", i + 1)));
                    }
                }
                return Ok(cmds);
            }
            match token.typ {
                T::Bool
                | T::CharConstant
                | T::Complex
                | T::Dot
                | T::Field
                | T::Identifier
                | T::Number
                | T::Nil
                | T::RawString
                | T::String
                | T::Variable
                | T::LeftParen => {
                    self.backup();
                    cmds.push(self.command()?);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn parse_control(&mut self, allow_else_if: bool, context: &str) -> Res<()> {
        let vars = self.vars.len();
        self.pipeline(context, T::RightDelim)?;
        let (_, next) = self.item_list()?;
        if matches!(next, Node::Else) {
            if allow_else_if && self.peek().typ == T::If {
                self.next();
                self.parse_control(true, "if")?;
            } else {
                let (_, next) = self.item_list()?;
                if !matches!(next, Node::End) {
                    return Err(self.errorf(format!("expected end; found {}", next.string())));
                }
            }
        }
        self.vars.truncate(vars);
        Ok(())
    }

    fn end_control(&mut self) -> Res<Node> {
        self.expect(T::RightDelim, "end")?;
        Ok(Node::End)
    }

    fn else_control(&mut self) -> Res<Node> {
        if self.peek_non_space().typ == T::If {
            return Ok(Node::Else);
        }
        self.expect(T::RightDelim, "else")?;
        Ok(Node::Else)
    }

    fn block_control(&mut self) -> Res<Node> {
        let context = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        self.pipeline(context, T::RightDelim)?;
        let end = {
            let mut block = self.sub(&name);
            let (list, end) = block.item_list()?;
            block.root = list;
            if matches!(end, Node::End) {
                block.add()?;
            }
            end
        };
        if !matches!(end, Node::End) {
            // Reported by the enclosing tree, at its own last token.
            return Err(self.errorf(format!("unexpected {} in {context}", end.string())));
        }
        Ok(Node::Template)
    }

    fn template_control(&mut self) -> Res<Node> {
        let context = "template clause";
        let token = self.next_non_space();
        self.parse_template_name(&token, context)?;
        if self.next_non_space().typ != T::RightDelim {
            self.backup();
            self.pipeline(context, T::RightDelim)?;
        }
        Ok(Node::Template)
    }

    fn parse_template_name(&mut self, token: &Item, context: &str) -> Res<String> {
        match token.typ {
            T::String | T::RawString => unquote(&token.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn command(&mut self) -> Res<Arg> {
        self.peek_non_space();
        let mut first: Option<Arg> = None;
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                first.get_or_insert(op);
            }
            let token = self.next();
            match token.typ {
                T::Space => continue,
                T::RightDelim | T::RightParen => self.backup(),
                T::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        first.ok_or_else(|| self.errorf("empty command"))
    }

    fn operand(&mut self) -> Res<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if self.peek().typ == T::Field {
            while self.peek().typ == T::Field {
                self.next();
            }
            return match node {
                Arg::Field => Ok(Some(Arg::Field)),
                Arg::Variable => Ok(Some(Arg::Variable)),
                Arg::Bool(_) | Arg::Str(_) | Arg::Number(_) | Arg::Nil | Arg::Dot => {
                    Err(self.errorf(format!("unexpected . after term {}", go_quote(&node.string()))))
                }
                _ => Ok(Some(Arg::Chain)),
            };
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> Res<Option<Arg>> {
        let token = self.next_non_space();
        Ok(Some(match token.typ {
            T::Identifier => {
                if !FUNCS.contains(&token.val.as_str()) {
                    return Err(self.errorf(format!("function {} not defined", go_quote(&token.val))));
                }
                Arg::Identifier
            }
            T::Dot => Arg::Dot,
            T::Nil => Arg::Nil,
            T::Variable => {
                let ident = token.val.split('.').next().unwrap_or("");
                if !self.vars.iter().any(|v| v == ident) {
                    return Err(self.errorf(format!("undefined variable {}", go_quote(ident))));
                }
                Arg::Variable
            }
            T::Field => Arg::Field,
            T::Bool => Arg::Bool(token.val == "true"),
            T::CharConstant | T::Complex | T::Number => {
                check_number(&token.val, token.typ).map_err(|e| self.errorf(e))?;
                Arg::Number(token.val)
            }
            T::LeftParen => {
                self.pipeline("parenthesized pipeline", T::RightParen)?;
                Arg::Pipe
            }
            T::String | T::RawString => {
                unquote(&token.val).map_err(|e| self.errorf(e))?;
                Arg::Str(token.val)
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Literals (node.go newNumber, strconv)

const INVALID_SYNTAX: &str = "invalid syntax";

/// `strconv.Unquote` for the string tokens the lexer produces.
fn unquote(s: &str) -> Result<String, String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let Some(body) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Err(INVALID_SYNTAX.into());
    };
    let mut out = String::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (c, tail) = unquote_char(rest, '"')?;
        out.push_str(&c);
        rest = tail;
    }
    Ok(out)
}

/// `strconv.UnquoteChar`: the first (possibly escaped) character of `s` and the rest.
fn unquote_char(s: &str, quote: char) -> Result<(String, &str), String> {
    let bad = || INVALID_SYNTAX.to_string();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(bad)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(bad());
    }
    if c != '\\' {
        return Ok((c.to_string(), chars.as_str()));
    }
    let e = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return Err(bad());
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((c.to_string(), rest));
    }
    let (n, radix) = match e {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (3, 8),
        _ => return Err(bad()),
    };
    let digits_src = if radix == 8 { s.get(1..).unwrap_or("") } else { rest };
    let digits = digits_src.get(..n).ok_or_else(bad)?;
    let v = u32::from_str_radix(digits, radix).map_err(|_| bad())?;
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    let tail = &digits_src[n..];
    match e {
        'x' => Ok((String::from_utf8_lossy(&[v as u8]).into_owned(), tail)),
        '0'..='7' => {
            if v > 255 {
                return Err(bad());
            }
            Ok((String::from_utf8_lossy(&[v as u8]).into_owned(), tail))
        }
        _ => char::from_u32(v).map(|c| (c.to_string(), tail)).ok_or_else(bad),
    }
}

/// `newNumber`: the errors a number, character or complex token can give.
fn check_number(text: &str, typ: T) -> Result<(), String> {
    match typ {
        T::CharConstant => {
            let inner = &text[1..];
            let (_, tail) = unquote_char(inner, '\'')?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            return Ok(());
        }
        // fmt.Sscan into a complex128 (fmt/scan.go complexTokens, convertFloat).
        T::Complex => return sscan_complex(text),
        _ => {}
    }
    if let Some(imag) = text.strip_suffix('i')
        && parse_float(imag).is_ok()
    {
        return Ok(());
    }
    if parse_int(text).is_ok() {
        return Ok(());
    }
    match parse_float(text) {
        Ok(()) if !text.contains(['.', 'e', 'E', 'p', 'P']) => Err(format!("integer overflow: {}", go_quote(text))),
        Ok(()) => Ok(()),
        Err(()) => Err(format!("illegal number syntax: {}", go_quote(text))),
    }
}

/// strconv's `underscoreOK`: underscores only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Whether `strconv.ParseInt(s, 0, 64)` or `strconv.ParseUint(s, 0, 64)` accepts `s`: a
/// sign limits the value to the `int64` range, no sign to the `uint64` one.
fn parse_int(s: &str) -> Result<(), ()> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (Some(true), &s[1..]),
        Some(b'+') => (Some(false), &s[1..]),
        _ => (None, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower.is_empty() {
        return Err(());
    }
    // A base prefix needs a digit after it; otherwise a leading 0 means octal.
    let (radix, digits) = match (lower.len() >= 3).then(|| &lower[..2]) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ if lower.starts_with('0') => (8, &lower[1..]),
        _ => (10, lower.as_str()),
    };
    if body.contains('_') && !underscore_ok(s) {
        return Err(());
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let v = if digits.is_empty() && radix == 8 {
        0
    } else {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(());
        }
        u64::from_str_radix(&digits, radix).map_err(|_| ())?
    };
    match sign {
        Some(true) if v > i64::MAX as u64 + 1 => Err(()),
        Some(false) if v > i64::MAX as u64 => Err(()),
        _ => Ok(()),
    }
}

/// fmt's `scanComplex` on the lexer's complex token: a float token, a sign, a float token,
/// `i`; then each part through `convertFloat`.
fn sscan_complex(text: &str) -> Result<(), String> {
    const COMPLEX_ERROR: &str = "syntax error scanning complex number";
    let b = text.as_bytes();
    let mut i = 0;
    let real_end = float_token(b, &mut i);
    let real = &text[..real_end];
    if !matches!(b.get(i), Some(b'+' | b'-')) {
        return Err(COMPLEX_ERROR.into());
    }
    let imag_start = i;
    i += 1;
    let imag_end = float_token(b, &mut i);
    if b.get(i) != Some(&b'i') {
        return Err(COMPLEX_ERROR.into());
    }
    convert_float(real)?;
    convert_float(&text[imag_start..imag_end])
}

/// fmt's `floatToken` from `*i`; the end of the token. A partly matched `nan` or `inf`
/// stays consumed, as `accept` leaves it.
fn float_token(b: &[u8], i: &mut usize) -> usize {
    let accept = |i: &mut usize, set: &[u8]| -> bool {
        if b.get(*i).is_some_and(|c| set.contains(c)) {
            *i += 1;
            true
        } else {
            false
        }
    };
    if accept(i, b"nN") && accept(i, b"aA") && accept(i, b"nN") {
        return *i;
    }
    accept(i, b"+-");
    if accept(i, b"iI") && accept(i, b"nN") && accept(i, b"fF") {
        return *i;
    }
    let (mut digits, mut exp): (&[u8], &[u8]) = (b"0123456789_", b"eEpP");
    if accept(i, b"0") && accept(i, b"xX") {
        digits = b"0123456789aAbBcCdDeEfF_";
        exp = b"pP";
    }
    while accept(i, digits) {}
    if accept(i, b".") {
        while accept(i, digits) {}
    }
    if accept(i, exp) {
        accept(i, b"+-");
        while accept(i, b"0123456789_") {}
    }
    *i
}

/// fmt's `convertFloat`: a decimal mantissa with a binary exponent is split at the `p`.
fn convert_float(s: &str) -> Result<(), String> {
    let fail = |f: &str, why: &str| Err(format!("strconv.{f}: parsing {}: {why}", go_quote(s)));
    if let Some(p) = s.find('p').filter(|_| !s.contains(['x', 'X'])) {
        if let Err(why) = parse_float_reason(&s[..p]) {
            return fail("ParseFloat", why);
        }
        if let Err(e) = s[p + 1..].parse::<i64>() {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            return fail("Atoi", why);
        }
        return Ok(());
    }
    parse_float_reason(s).or_else(|why| fail("ParseFloat", why))
}

/// `strconv.ParseFloat`'s error kind for `s`.
fn parse_float_reason(s: &str) -> Result<(), &'static str> {
    match float_magnitude(s) {
        Err(()) => Err("invalid syntax"),
        Ok(false) => Err("value out of range"),
        Ok(true) => Ok(()),
    }
}

/// `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (with a `p` exponent) forms; an
/// out-of-range value is an error.
fn parse_float(s: &str) -> Result<(), ()> {
    match float_magnitude(s)? {
        true => Ok(()),
        false => Err(()),
    }
}

/// ParseFloat's syntax check (`Err`), then whether the value is within range.
fn float_magnitude(s: &str) -> Result<bool, ()> {
    if s.contains('_') && !underscore_ok(s) {
        return Err(());
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let body = clean.strip_prefix(['+', '-']).unwrap_or(&clean);
    let lower = body.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        let (mant, exp) = hex.split_once('p').ok_or(())?;
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_hexdigit()) {
            return Err(());
        }
        let exp_digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if exp_digits.is_empty() || !exp_digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(());
        }
        let e: i64 = exp.parse().unwrap_or(if exp.starts_with('-') { i64::MIN } else { i64::MAX });
        // The mantissa's magnitude as m * 2^shift, then whether m * 2^(shift + e) overflows.
        let (mut m, mut shift) = (0f64, 0i64);
        for (i, c) in int.chars().chain(frac.chars()).enumerate() {
            let d = f64::from(c.to_digit(16).unwrap_or(0));
            if m < 2f64.powi(60) {
                m = m * 16.0 + d;
                if i >= int.len() {
                    shift -= 4;
                }
            } else if i < int.len() {
                shift += 4;
            }
        }
        return Ok(!(m > 0.0 && (m.log2() + shift as f64 + e as f64) >= 1024.0));
    }
    // Rust's grammar for decimal floats matches Go's once signs and underscores are handled;
    // `inf`/`nan` never reach here from the lexer.
    if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Err(());
    }
    clean.parse::<f64>().map(f64::is_finite).map_err(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Paths (path/filepath on Unix)

/// `filepath.Clean`.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = vec![];
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `filepath.Base`.
fn go_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// `filepath.Match` (Unix): `*`, `?`, `[...]` classes with ranges and `^`, `\` escapes; an
/// `Err` is `ErrBadPattern`, reported even when the name already failed to match.
fn go_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name.as_bytes()[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Before giving up, check the rest of the pattern for syntax errors.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &str) -> (bool, &str, &str) {
    let mut star = false;
    while pattern.starts_with('*') {
        pattern = &pattern[1..];
        star = true;
    }
    let b = pattern.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

fn match_chunk<'n>(chunk: &str, s: &'n str) -> Result<(&'n str, bool), ()> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk.as_bytes()[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let c = s.chars().next().unwrap_or('\0');
                    r = c;
                    s = &s[c.len_utf8()..];
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut n = 0;
                loop {
                    if !chunk.is_empty() && chunk.as_bytes()[0] == b']' && n > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.starts_with('-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    n += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    let c = s.chars().next().unwrap_or('\0');
                    if c == '/' {
                        failed = true;
                    }
                    s = &s[c.len_utf8().min(s.len())..];
                }
                chunk = &chunk[1..];
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(());
                }
                let c = chunk.chars().next().unwrap_or('\0');
                if !failed {
                    if !s.starts_with(c) {
                        failed = true;
                    } else {
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[c.len_utf8()..];
            }
            _ => {
                let c = chunk.chars().next().unwrap_or('\0');
                if !failed {
                    if !s.starts_with(c) {
                        failed = true;
                    } else {
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[c.len_utf8()..];
            }
        }
    }
    if failed {
        return Ok(("", false));
    }
    Ok((s, true))
}

fn get_esc(chunk: &str) -> Result<(char, &str), ()> {
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(());
    }
    let mut chunk = chunk;
    if chunk.starts_with('\\') {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(());
        }
    }
    let r = chunk.chars().next().ok_or(())?;
    let rest = &chunk[r.len_utf8()..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        text: String,
        error: Option<String>,
    }

    /// Every vector of tests/fixtures/go_template_vectors.json, generated by
    /// tests/fixtures/gen (`go run . templates`) with template.FromGlobs of the Alertmanager
    /// version Grafana 8.5.4 vendors.
    #[test]
    fn parse_errors_match_go() {
        let v: Vectors =
            serde_json::from_str(include_str!("../tests/fixtures/go_template_vectors.json")).expect("vectors parse");
        let mut failures = vec![];
        for case in &v.vectors {
            let got = parse("t.tmpl", &case.text).err();
            if got != case.error {
                failures.push(format!("{}: got {got:?}, want {:?}", case.name, case.error));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn file_names_and_globs_follow_persist_templates_and_from_globs() {
        let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(check_template_files(1, &files(&[("a", "{{ .A }}")])), Ok(()));
        assert_eq!(
            check_template_files(1, &files(&[("a/b", "")])),
            Err("template file name 'a/b' is not valid".into())
        );
        assert_eq!(check_template_files(1, &files(&[("", "")])), Err("template file name '' is not valid".into()));
        assert_eq!(check_template_files(1, &files(&[("a/", "")])), Err("template file name 'a/' is not valid".into()));
        assert_eq!(
            check_template_files(3, &files(&[(".", "")])),
            Err("read /var/lib/grafana/alerting/3: is a directory".into())
        );
        assert_eq!(
            check_template_files(3, &files(&[("..", "")])),
            Err("read /var/lib/grafana/alerting: is a directory".into())
        );
        assert_eq!(check_template_files(1, &files(&[("a[", "")])), Err("syntax error in pattern".into()));
        // "[a]" matches only a file named "a", so its own text is never parsed...
        assert_eq!(check_template_files(1, &files(&[("[a]", "{{")])), Ok(()));
        // ...while "*" parses every file, bad ones included.
        assert_eq!(
            check_template_files(1, &files(&[("*", ""), ("b", "{{ end }}")])),
            Err("template: b:1: unexpected {{end}}".into())
        );
        // The user's __default__.tmpl is replaced by Grafana's before parsing.
        assert_eq!(check_template_files(1, &files(&[("__default__.tmpl", "{{")])), Ok(()));
    }

    #[test]
    fn go_match_follows_filepath_match() {
        assert_eq!(go_match("a*", "abc"), Ok(true));
        assert_eq!(go_match("a?c", "abc"), Ok(true));
        assert_eq!(go_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(go_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(go_match("\\*", "*"), Ok(true));
        assert_eq!(go_match("*.tmpl", "x.tmpl"), Ok(true));
        assert_eq!(go_match("[", "a"), Err(()));
        assert_eq!(go_match("a[", "b"), Err(()));
        assert_eq!(go_match("\\", "a"), Err(()));
    }
}
