//! SCIM filter and PATCH-path grammar: RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH `path`s.
//!
//! This module owns parsing into an AST, the canonical text form (`Display`), validation of a
//! filter against the schema (`Filter::check`) and evaluation against rendered resources
//! (`Filter::matches`, `Filter::matches_element`). It does no I/O and must not import actix or
//! sled: the schema is reached only through the [`AttrTypes`] trait, and resources arrive as
//! already-rendered `serde_json::Value`s.
//!
//! Positions in error messages are 0-based character offsets into the input.
//!
//! Evaluation choices where RFC 7644 is silent or loose:
//! - `ne` is the negation of `eq`: true for an absent attribute, and for a multi-valued one
//!   only when no value equals. `eq null` is "not `pr`", `ne null` is "`pr`".
//! - A multi-valued complex attribute without sub-attribute compares its elements' `value`.
//! - Entra's `emails[type eq "work"].value eq "x"` is accepted as a filter and stored as
//!   `emails[type eq "work" and value eq "x"]`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::{Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Longest filter or PATCH path accepted, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of `(...)`, `not (...)` and `[...]` accepted. A flat chain such as
/// `a eq 1 or b eq 2 or ...` is not nesting, so clients listing many ids are not refused.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Attribute path: optional schema URN, attribute name, optional sub-attribute, as written by
/// the client (names are not canonicalised here; [`AttrTypes::locate`] does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:` (e.g. the enterprise extension URN).
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name after the `.`.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A plain attribute name without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

/// Comparison operators of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    #[rustfmt::skip]
    const ALL: [CompareOp; 9] =
        [Self::Eq, Self::Ne, Self::Co, Self::Sw, Self::Ew, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    /// The lowercase keyword (`eq`, `ne`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Parse an operator keyword, case-insensitively; `None` for anything else (including `pr`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; `value` is a String, Number, Bool or Null (compValue of the ABNF).
    Compare {
        /// Attribute compared.
        path: AttrPath,
        /// Operator.
        op: CompareOp,
        /// Literal compared with.
        value: Value,
    },
    /// `path pr`
    Present(AttrPath),
    /// `left and right`
    And(Box<Filter>, Box<Filter>),
    /// `left or right`
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: inner filter's paths are relative to one element
    ValuePath {
        /// Multi-valued (or single-valued) complex attribute outside the brackets.
        path: AttrPath,
        /// Filter applied to each element; its paths name sub-attributes.
        filter: Box<Filter>,
    },
}

/// PATCH `path`: attrPath, optionally `[valFilter]`, optionally `.subAttr` after the bracket.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// Attribute addressed (may itself carry a sub-attribute when there is no bracket).
    pub attr: AttrPath,
    /// Filter selecting elements of a multi-valued attribute.
    pub value_filter: Option<Filter>,
    /// Sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

/// Parse or check failure; the message is meant to be the SCIM error `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

type Result<T> = std::result::Result<T, FilterError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(FilterError(msg.into()))
}

/// What the evaluator needs to know about an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// string
    String,
    /// boolean
    Boolean,
    /// decimal
    Decimal,
    /// integer
    Integer,
    /// dateTime (RFC 3339 text in resources)
    DateTime,
    /// binary (base64 text in resources)
    Binary,
    /// reference
    Reference,
    /// complex
    Complex,
}

impl AttrKind {
    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Canonical location and type of an attribute, as resolved by the schema registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// `None` = top-level attribute of the resource; `Some(urn)` = inside the extension object
    /// stored under key `urn` (exact key to use).
    pub container: Option<String>,
    /// Canonical attribute name (exact JSON key).
    pub name: String,
    /// Canonical sub-attribute name (exact JSON key).
    pub sub: Option<String>,
    /// Type of the addressed attribute (of `sub` when sub is Some).
    pub kind: AttrKind,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Whether the top-level attribute `name` is multi-valued.
    pub multi_valued: bool,
}

/// Schema lookups the checker and evaluator need; the server's schema registry implements it.
pub trait AttrTypes {
    /// Resolve a path (case-insensitive names, optional URN prefix) to its canonical location;
    /// None = unknown attribute.
    fn locate(&self, path: &AttrPath) -> Option<Located>;
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// Any run of characters up to whitespace, a bracket, a paren or a quote: attribute paths,
    /// keywords, operators, numbers and literals are told apart by the parser from context.
    Word(String),
    Str(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    end: usize,
}

impl Token {
    fn describe(&self) -> String {
        match &self.tok {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => Value::String(s.clone()).to_string(),
        }
    }

    fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        self.word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }
}

fn lex(chars: &[char]) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(&c) = chars.get(pos) {
        let (tok, end) = match c {
            c if c.is_whitespace() => {
                pos += 1;
                continue;
            }
            '(' => (Tok::LParen, pos + 1),
            ')' => (Tok::RParen, pos + 1),
            '[' => (Tok::LBracket, pos + 1),
            ']' => (Tok::RBracket, pos + 1),
            '"' => {
                let (s, end) = lex_string(chars, pos)?;
                (Tok::Str(s), end)
            }
            _ => {
                let len = chars[pos..]
                    .iter()
                    .take_while(|c| !c.is_whitespace() && !"()[]\"".contains(**c))
                    .count();
                let word = chars[pos..pos + len].iter().collect();
                (Tok::Word(word), pos + len)
            }
        };
        out.push(Token { tok, pos, end });
        pos = end;
    }
    Ok(out)
}

/// Decodes a JSON string literal starting at the opening quote; returns it and the index after
/// the closing quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize)> {
    let unterminated = || {
        err(format!(
            "unterminated string starting at position {start}: missing closing '\"'"
        ))
    };
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return unterminated();
        };
        i += 1;
        match c {
            '"' => return Ok((s, i)),
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return unterminated();
                };
                i += 1;
                s.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let (ch, next) = lex_unicode(chars, i - 2)?;
                        i = next;
                        ch
                    }
                    other => {
                        return err(format!(
                            "invalid escape '\\{other}' at position {} in the string starting at position {start}",
                            i - 2
                        ))
                    }
                });
            }
            c => s.push(c),
        }
    }
}

/// Decodes `\uXXXX` (and a following low surrogate when XXXX is a high one) at `at`.
fn lex_unicode(chars: &[char], at: usize) -> Result<(char, usize)> {
    let hex4 = |from: usize| -> Option<u32> {
        chars
            .get(from..from + 4)?
            .iter()
            .try_fold(0u32, |acc, c| Some(acc * 16 + c.to_digit(16)?))
    };
    let bad = || {
        err(format!("invalid unicode escape at position {at}: expected '\\u' and 4 hex digits forming a valid character"))
    };
    let Some(hi) = hex4(at + 2) else {
        return bad();
    };
    if (0xD800..0xDC00).contains(&hi) {
        let is_pair = chars.get(at + 6) == Some(&'\\') && chars.get(at + 7) == Some(&'u');
        let lo = if is_pair { hex4(at + 8) } else { None };
        return match lo {
            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                char::from_u32(code).map_or_else(bad, |c| Ok((c, at + 12)))
            }
            _ => bad(),
        };
    }
    char::from_u32(hi).map_or_else(bad, |c| Ok((c, at + 6)))
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<Token>,
    idx: usize,
    /// Character length of the input, reported as the position of "end of input".
    end: usize,
    depth: usize,
    /// Position of the enclosing `[`, when inside a value filter.
    bracket: Option<usize>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.eq_ignore_ascii_case("$ref")
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

fn check_name(s: &str, pos: usize) -> Result<String> {
    if s.is_empty() {
        return err(format!("expected an attribute name at position {pos}"));
    }
    if !is_name(s) {
        return err(format!(
            "invalid attribute name '{s}' at position {pos}: a name starts with a letter and \
             contains only letters, digits, '-' and '_'"
        ));
    }
    Ok(s.to_owned())
}

/// Parses one attribute path written as a single word starting at character `pos`.
fn path_from_word(word: &str, pos: usize) -> Result<AttrPath> {
    let is_urn = word
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    // URNs contain dots ("...:enterprise:2.0:User"), so only the part after the last ':' is
    // the attribute name and its optional sub-attribute.
    let (urn, rest, rest_pos) = match word.rsplit_once(':') {
        Some((urn, rest)) if is_urn => {
            if urn.len() <= 4 {
                return err(format!(
                    "incomplete schema URN in '{word}' at position {pos}: expected \
                     'urn:...:attribute'"
                ));
            }
            (Some(urn.to_owned()), rest, pos + urn.chars().count() + 1)
        }
        _ => (None, word, pos),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => {
            let sub_pos = rest_pos + name.chars().count() + 1;
            (name, Some(check_name(sub, sub_pos)?))
        }
        None => (rest, None),
    };
    Ok(AttrPath {
        urn,
        name: check_name(name, rest_pos)?,
        sub,
    })
}

impl Parser {
    fn new(input: &str, what: &str) -> Result<Self> {
        // Counting characters is only needed when the byte length could exceed the limit.
        if input.len() > MAX_FILTER_LEN && input.chars().count() > MAX_FILTER_LEN {
            return err(format!("{what} is longer than {MAX_FILTER_LEN} characters"));
        }
        let chars: Vec<char> = input.chars().collect();
        let toks = lex(&chars)?;
        if toks.is_empty() {
            return err(format!("{what} is empty"));
        }
        Ok(Self {
            toks,
            idx: 0,
            end: chars.len(),
            depth: 0,
            bracket: None,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.idx)
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn fail(&self, expected: &str) -> FilterError {
        let (pos, found) = match self.peek() {
            Some(t) => (t.pos, t.describe()),
            None => (self.end, "end of input".to_owned()),
        };
        FilterError(format!(
            "expected {expected} at position {pos}, found {found}"
        ))
    }

    /// Counts one nesting level; called before recursing so that hostile input cannot
    /// exhaust the stack.
    fn enter(&mut self, pos: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return err(format!(
                "filter is nested more than {MAX_FILTER_DEPTH} levels deep (parentheses, 'not' \
                 and '[...]' count) at position {pos}"
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Filter> {
        let mut left = self.parse_and()?;
        while self.peek().is_some_and(|t| t.is_keyword("or")) {
            self.idx += 1;
            left = Filter::Or(Box::new(left), Box::new(self.parse_and()?));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter> {
        let mut left = self.parse_unary()?;
        while self.peek().is_some_and(|t| t.is_keyword("and")) {
            self.idx += 1;
            left = Filter::And(Box::new(left), Box::new(self.parse_unary()?));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.fail("an attribute path, '(' or 'not'"));
        };
        match &tok.tok {
            Tok::LParen => {
                self.idx += 1;
                self.parse_group(tok.pos)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && !self.not_is_attribute() => {
                self.idx += 1;
                match self.peek() {
                    Some(t) if t.tok == Tok::LParen => {
                        let open = t.pos;
                        self.idx += 1;
                        Ok(Filter::Not(Box::new(self.parse_group(open)?)))
                    }
                    _ => Err(self.fail("'(' after 'not'")),
                }
            }
            Tok::Word(w) => {
                self.idx += 1;
                self.parse_attr_expr(w, tok.pos)
            }
            _ => Err(self.fail("an attribute path, '(' or 'not'")),
        }
    }

    /// `not` is a keyword unless an operator or `[` follows, which only an attribute named
    /// `not` can explain.
    fn not_is_attribute(&self) -> bool {
        self.toks.get(self.idx + 1).is_some_and(|t| {
            t.tok == Tok::LBracket
                || t.word().is_some_and(|w| {
                    CompareOp::from_keyword(w).is_some() || w.eq_ignore_ascii_case("pr")
                })
        })
    }

    /// Parses the inside of `( ... )` after the `(` at `open` was consumed.
    fn parse_group(&mut self, open: usize) -> Result<Filter> {
        self.enter(open)?;
        let inner = self.parse_or()?;
        match self.peek() {
            Some(t) if t.tok == Tok::RParen => {}
            Some(_) => return Err(self.fail("'and', 'or' or ')'")),
            None => return err(format!("missing ')' to close the '(' at position {open}")),
        }
        self.idx += 1;
        self.depth -= 1;
        Ok(inner)
    }

    fn parse_attr_expr(&mut self, word: &str, pos: usize) -> Result<Filter> {
        let path = path_from_word(word, pos)?;
        if self.bracket.is_some() && (path.urn.is_some() || path.sub.is_some()) {
            return err(format!(
                "inside '[...]' use a plain sub-attribute name, found '{word}' at position {pos}"
            ));
        }
        if !self.peek_is(&Tok::LBracket) {
            return self.parse_condition(path, word);
        }
        let (inner, close_end) = self.parse_bracket(&path, word)?;
        let filter = match self.take_dot_sub(close_end)? {
            // Entra writes `emails[type eq "work"].value eq "x"`, which RFC 7644 lacks; for
            // one element it means `emails[type eq "work" and value eq "x"]`, so store that.
            Some(sub) => {
                let after = format!("{word}[...].{sub}");
                let tail = self.parse_condition(AttrPath::new(sub), &after)?;
                Filter::And(Box::new(inner), Box::new(tail))
            }
            None => inner,
        };
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    fn parse_condition(&mut self, path: AttrPath, after: &str) -> Result<Filter> {
        let word = self.peek().and_then(Token::word).unwrap_or_default();
        if word.eq_ignore_ascii_case("pr") {
            self.idx += 1;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(self.fail(&format!(
                "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{after}'"
            )));
        };
        self.idx += 1;
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<Value> {
        let value = match self.peek().map(|t| &t.tok) {
            Some(Tok::Str(s)) => Some(Value::String(s.clone())),
            Some(Tok::Word(w)) => literal(w),
            _ => None,
        };
        match value {
            Some(v) => {
                self.idx += 1;
                Ok(v)
            }
            None => Err(self.fail(&format!(
                "a value (a quoted string, number, true, false or null) after '{op}'"
            ))),
        }
    }

    /// Parses `[ valFilter ]` (the `[` is next); returns the filter and the position after `]`.
    fn parse_bracket(&mut self, path: &AttrPath, word: &str) -> Result<(Filter, usize)> {
        let open = self.peek().map_or(self.end, |t| t.pos);
        if let Some(outer) = self.bracket {
            return err(format!(
                "value filters cannot be nested: '[' at position {open} is inside the '[' at \
                 position {outer}"
            ));
        }
        if path.sub.is_some() {
            return err(format!(
                "'[' at position {open} cannot follow the sub-attribute path '{word}'; put the \
                 filter on the parent attribute"
            ));
        }
        self.idx += 1;
        self.enter(open)?;
        self.bracket = Some(open);
        let inner = self.parse_or()?;
        let close_end = match self.peek() {
            Some(t) if t.tok == Tok::RBracket => t.end,
            Some(_) => return Err(self.fail("'and', 'or' or ']'")),
            None => return err(format!("missing ']' to close the '[' at position {open}")),
        };
        self.idx += 1;
        self.depth -= 1;
        self.bracket = None;
        Ok((inner, close_end))
    }

    /// Consumes `.sub` written directly after the `]` that ended at `close_end`.
    fn take_dot_sub(&mut self, close_end: usize) -> Result<Option<String>> {
        let Some(t) = self.peek().filter(|t| t.pos == close_end) else {
            return Ok(None);
        };
        let Some(sub) = t.word().and_then(|w| w.strip_prefix('.')) else {
            return Ok(None);
        };
        if sub.is_empty() {
            return err(format!(
                "expected a sub-attribute name after '.' at position {}",
                t.pos + 1
            ));
        }
        let sub = check_name(sub, t.pos + 1)?;
        self.idx += 1;
        Ok(Some(sub))
    }

    fn expect_end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) if t.tok == Tok::RParen => err(format!(
                "unbalanced parentheses: ')' at position {} has no matching '('",
                t.pos
            )),
            Some(t) if t.tok == Tok::RBracket => err(format!(
                "unbalanced brackets: ']' at position {} has no matching '['",
                t.pos
            )),
            Some(_) => Err(self.fail("'and', 'or' or end of input")),
        }
    }
}

/// compValue other than a string: `true`, `false`, `null` (any case) or a JSON number.
fn literal(word: &str) -> Option<Value> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ if word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
            // serde_json checks the JSON number grammar, but its fast float parsing can be one
            // ulp off; std's parser is exact, which keeps Display/parse round trips lossless.
            let n = serde_json::from_str::<Number>(word).ok()?;
            let n = if n.is_f64() {
                Number::from_f64(word.parse().ok()?)?
            } else {
                n
            };
            Some(Value::Number(n))
        }
        _ => None,
    }
}

/// Parse a filter (the `filter` query parameter or the `filter` of a search request).
pub fn parse_filter(input: &str) -> std::result::Result<Filter, FilterError> {
    let mut p = Parser::new(input, "filter")?;
    let filter = p.parse_or()?;
    p.expect_end()?;
    Ok(filter)
}

/// Parse a PATCH operation `path` (RFC 7644 §3.5.2).
pub fn parse_patch_path(input: &str) -> std::result::Result<PatchPath, FilterError> {
    let mut p = Parser::new(input, "PATCH path")?;
    let Some((word, pos)) = p.peek().and_then(|t| Some((t.word()?.to_owned(), t.pos))) else {
        return Err(p.fail("an attribute path"));
    };
    p.idx += 1;
    let attr = path_from_word(&word, pos)?;
    let (mut value_filter, mut sub) = (None, None);
    if p.peek_is(&Tok::LBracket) {
        let (filter, close_end) = p.parse_bracket(&attr, &word)?;
        value_filter = Some(filter);
        sub = p.take_dot_sub(close_end)?;
    }
    match p.peek() {
        None => Ok(PatchPath {
            attr,
            value_filter,
            sub,
        }),
        Some(t)
            if t.word().is_some_and(|w| {
                CompareOp::from_keyword(w).is_some() || w.eq_ignore_ascii_case("pr")
            }) =>
        {
            err(format!(
                "a PATCH path cannot contain a comparison: unexpected {} at position {}; select \
                 values with attribute[filter]",
                t.describe(),
                t.pos
            ))
        }
        Some(t) => err(format!(
            "unexpected {} at position {} after the PATCH path",
            t.describe(),
            t.pos
        )),
    }
}

/// Parse a bare attribute path (`userName`, `name.givenName`, `urn:...:User:manager.value`),
/// e.g. for the `attributes` and `sortBy` query parameters.
pub fn parse_attr_path(input: &str) -> std::result::Result<AttrPath, FilterError> {
    let p = Parser::new(input, "attribute path")?;
    match p.toks.as_slice() {
        [Token {
            tok: Tok::Word(w),
            pos,
            ..
        }] => path_from_word(w, *pos),
        _ => Err(p.fail("a single attribute path")),
    }
}

// ---------------------------------------------------------------------------------------------
// Display

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

fn operand(f: &mut fmt::Formatter<'_>, x: &Filter, paren: bool) -> fmt::Result {
    if paren {
        write!(f, "({x})")
    } else {
        write!(f, "{x}")
    }
}

impl fmt::Display for Filter {
    /// Canonical form: lowercase keywords, JSON literals, and only the parentheses needed to
    /// keep the tree's shape (and/or chains are left-associative), so it re-parses to `self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                operand(f, l, false)?;
                f.write_str(" or ")?;
                operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema check and evaluation

/// Resolves `path`, relative to `outer` inside a value filter. With `redirect`, a multi-valued
/// complex attribute without sub-attribute stands for its `value` sub-attribute, the way RFC
/// 7644 lets `emails co "@x"` and `members eq "id"` compare against each element's `value`.
fn resolve(
    path: &AttrPath,
    outer: Option<&AttrPath>,
    types: &dyn AttrTypes,
    redirect: bool,
) -> Option<Located> {
    let abs = match outer {
        None => path.clone(),
        Some(_) if path.urn.is_some() || path.sub.is_some() => return None,
        Some(o) => AttrPath {
            urn: o.urn.clone(),
            name: o.name.clone(),
            sub: Some(path.name.clone()),
        },
    };
    let loc = types.locate(&abs)?;
    // A complex attribute compared as a whole means its `value` (`emails co "@x"`, `members eq
    // "id"`, and Entra's `manager eq "id"` on the single-valued enterprise manager).
    if redirect && loc.kind == AttrKind::Complex && loc.sub.is_none() {
        let value = AttrPath {
            sub: Some("value".into()),
            ..abs
        };
        return Some(types.locate(&value).unwrap_or(loc));
    }
    Some(loc)
}

fn full_name(path: &AttrPath, outer: Option<&AttrPath>) -> String {
    match outer {
        Some(o) => format!("{o}.{path}"),
        None => path.to_string(),
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn check_in(f: &Filter, outer: Option<&AttrPath>, types: &dyn AttrTypes) -> Result<()> {
    let known = |path: &AttrPath, redirect: bool| {
        resolve(path, outer, types, redirect)
            .ok_or_else(|| FilterError(format!("unknown attribute '{}'", full_name(path, outer))))
    };
    match f {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check_in(l, outer, types)?;
            check_in(r, outer, types)
        }
        Filter::Not(inner) => check_in(inner, outer, types),
        Filter::Present(path) => known(path, false).map(drop),
        Filter::Compare { path, op, value } => {
            check_compare(&known(path, true)?, &full_name(path, outer), *op, value)
        }
        Filter::ValuePath { path, filter } => {
            if let Some(o) = outer {
                return err(format!(
                    "value filters cannot be nested: '{path}[...]' inside '{o}[...]'"
                ));
            }
            let loc = known(path, false)?;
            if loc.kind != AttrKind::Complex || loc.sub.is_some() {
                return err(format!(
                    "'{path}[...]' needs a complex attribute, but '{path}' is a {} attribute",
                    loc.kind.name()
                ));
            }
            check_in(filter, Some(path), types)
        }
    }
}

fn check_compare(loc: &Located, name: &str, op: CompareOp, value: &Value) -> Result<()> {
    use CompareOp::*;
    let kind = loc.kind.name();
    let unsupported = |allowed: &str| {
        err(format!(
            "operator '{op}' is not supported on {kind} attribute '{name}' (use {allowed})"
        ))
    };
    let ordering = matches!(op, Gt | Ge | Lt | Le);
    let substring = matches!(op, Co | Sw | Ew);
    match value {
        Value::Array(_) | Value::Object(_) => {
            return err(format!(
                "the value compared with '{name}' must be a string, number, true, false or null"
            ))
        }
        Value::Null if !matches!(op, Eq | Ne) => {
            return err(format!(
                "operator '{op}' cannot compare '{name}' with null (only eq and ne can)"
            ))
        }
        Value::Null => return Ok(()),
        _ => {}
    }
    match loc.kind {
        AttrKind::Boolean if ordering || substring => unsupported("eq or ne"),
        AttrKind::Boolean if as_bool(value).is_none() => err(format!(
            "boolean attribute '{name}' must be compared with true or false, found {value}"
        )),
        AttrKind::Complex if ordering || substring => {
            unsupported("eq, ne or pr, or compare one of its sub-attributes")
        }
        AttrKind::Binary if ordering => unsupported("eq, ne, co, sw or ew"),
        AttrKind::Integer | AttrKind::Decimal | AttrKind::DateTime if substring => {
            unsupported("eq, ne, gt, ge, lt or le")
        }
        AttrKind::Integer | AttrKind::Decimal if !value.is_number() => err(format!(
            "{kind} attribute '{name}' must be compared with a number, found {value}"
        )),
        AttrKind::DateTime if value.as_str().and_then(parse_time).is_none() => err(format!(
            "dateTime attribute '{name}' must be compared with an RFC 3339 timestamp such as \
             \"2011-05-13T04:42:34Z\", found {value}"
        )),
        _ => Ok(()),
    }
}

/// Where a path is evaluated: a whole resource, or one element of the attribute `outer`.
enum Scope<'a> {
    Resource(&'a Value),
    Element(&'a Value, &'a AttrPath),
}

fn get_key<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    // Data written by older versions may not use the canonical spelling of the key.
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn attr_value<'v>(root: &'v Value, loc: &Located) -> Option<&'v Value> {
    let container = match &loc.container {
        Some(urn) => get_key(root, urn)?,
        None => root,
    };
    get_key(container, &loc.name)
}

fn push_leaves<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// The located attribute and every value it holds (one per element for multi-valued ones).
fn values_at<'v>(
    path: &AttrPath,
    scope: &Scope<'v>,
    types: &dyn AttrTypes,
    redirect: bool,
) -> Option<(Located, Vec<&'v Value>)> {
    let mut out = Vec::new();
    match scope {
        Scope::Resource(root) => {
            let loc = resolve(path, None, types, redirect)?;
            match (attr_value(root, &loc), &loc.sub) {
                (None, _) => {}
                (Some(v), None) => push_leaves(v, &mut out),
                (Some(Value::Array(items)), Some(sub)) => items
                    .iter()
                    .filter_map(|e| get_key(e, sub))
                    .for_each(|v| push_leaves(v, &mut out)),
                (Some(v), Some(sub)) => {
                    if let Some(v) = get_key(v, sub) {
                        push_leaves(v, &mut out);
                    }
                }
            }
            Some((loc, out))
        }
        Scope::Element(elem, outer) => {
            let loc = resolve(path, Some(outer), types, false)?;
            let key = loc.sub.as_deref().unwrap_or(&path.name);
            if let Some(v) = get_key(elem, key) {
                push_leaves(v, &mut out);
            }
            Some((loc, out))
        }
    }
}

/// `pr` semantics: not null, not an empty string, array or object.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => Some(x.cmp(&y)),
        (_, _, Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn ord_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// The filter's literal, converted once per evaluation to the attribute's type.
enum Needle {
    Bool(bool),
    Num(Number),
    Time(OffsetDateTime),
    Text { text: String, fold: bool },
}

impl Needle {
    fn new(loc: &Located, value: &Value) -> Option<Self> {
        Some(match (loc.kind, value) {
            (AttrKind::Boolean, v) => Self::Bool(as_bool(v)?),
            (AttrKind::Integer | AttrKind::Decimal, Value::Number(n)) => Self::Num(n.clone()),
            (AttrKind::Integer | AttrKind::Decimal, _) => return None,
            (AttrKind::DateTime, v) => Self::Time(parse_time(v.as_str()?)?),
            (_, v) => {
                // Liberal: `externalId eq 123` compares with the text "123".
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    _ => return None,
                };
                let fold = !loc.case_exact;
                Self::Text {
                    text: if fold { text.to_lowercase() } else { text },
                    fold,
                }
            }
        })
    }

    fn test(&self, op: CompareOp, candidate: &Value) -> bool {
        match self {
            Self::Bool(b) => op == CompareOp::Eq && as_bool(candidate) == Some(*b),
            Self::Num(n) => match candidate {
                Value::Number(c) => cmp_numbers(c, n).is_some_and(|o| ord_matches(op, o)),
                _ => false,
            },
            Self::Time(t) => candidate
                .as_str()
                .and_then(parse_time)
                .is_some_and(|c| ord_matches(op, c.cmp(t))),
            Self::Text { text, fold } => {
                let Some(c) = candidate.as_str() else {
                    return false;
                };
                let c: Cow<'_, str> = if *fold {
                    Cow::Owned(c.to_lowercase())
                } else {
                    Cow::Borrowed(c)
                };
                match op {
                    CompareOp::Co => c.contains(text.as_str()),
                    CompareOp::Sw => c.starts_with(text.as_str()),
                    CompareOp::Ew => c.ends_with(text.as_str()),
                    _ => ord_matches(op, c.as_ref().cmp(text.as_str())),
                }
            }
        }
    }
}

fn eval(f: &Filter, scope: &Scope<'_>, types: &dyn AttrTypes) -> bool {
    let present = |path: &AttrPath| {
        values_at(path, scope, types, false)
            .is_some_and(|(_, vals)| vals.into_iter().any(is_present))
    };
    match f {
        Filter::And(l, r) => eval(l, scope, types) && eval(r, scope, types),
        Filter::Or(l, r) => eval(l, scope, types) || eval(r, scope, types),
        Filter::Not(inner) => !eval(inner, scope, types),
        Filter::Present(path) => present(path),
        Filter::Compare {
            path,
            op,
            value: Value::Null,
        } => match op {
            CompareOp::Eq => !present(path),
            CompareOp::Ne => present(path),
            _ => false,
        },
        Filter::Compare { path, op, value } => {
            let Some((loc, vals)) = values_at(path, scope, types, true) else {
                return false;
            };
            let Some(needle) = Needle::new(&loc, value) else {
                return false;
            };
            let any = |op| vals.iter().any(|v| needle.test(op, v));
            // `ne` is the negation of `eq`: an absent attribute is "not equal", and a
            // multi-valued attribute is "not equal" only when no element equals.
            match op {
                CompareOp::Ne => !any(CompareOp::Eq),
                other => any(*other),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Resource(root) = scope else {
                return false;
            };
            let Some(loc) = types.locate(path) else {
                return false;
            };
            match attr_value(root, &loc) {
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|e| eval(filter, &Scope::Element(e, path), types)),
                Some(obj @ Value::Object(_)) => eval(filter, &Scope::Element(obj, path), types),
                _ => false,
            }
        }
    }
}

impl Filter {
    /// Validate against the schema: every path known, operators fit the attribute's type, and
    /// literals fit it too (booleans take true/false or "true"/"false" in any case, dateTimes an
    /// RFC 3339 string, numbers a number). Inside a value path, inner paths are resolved as
    /// sub-attributes of the outer attribute.
    pub fn check(&self, types: &dyn AttrTypes) -> std::result::Result<(), FilterError> {
        check_in(self, None, types)
    }

    /// Evaluate against a rendered resource (a JSON object holding `id`, `meta`, top-level
    /// attributes and extension objects keyed by their URN). Call only after `check`
    /// succeeded; never panics anyway (paths that do not resolve simply do not match).
    /// A multi-valued attribute matches when any of its values does; see the module docs for
    /// `ne`, `null` and `pr`.
    pub fn matches(&self, resource: &Value, types: &dyn AttrTypes) -> bool {
        eval(self, &Scope::Resource(resource), types)
    }

    /// Evaluate against one element of a multi-valued complex attribute (used by PATCH for
    /// `emails[type eq "work"]`); `outer` is the attribute path outside the brackets.
    pub fn matches_element(
        &self,
        element: &Value,
        outer: &AttrPath,
        types: &dyn AttrTypes,
    ) -> bool {
        eval(self, &Scope::Element(element, outer), types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn shown(input: &str) -> String {
        match parse_filter(input) {
            Ok(f) => f.to_string(),
            Err(e) => panic!("{input:?} failed: {e}"),
        }
    }

    #[test]
    fn valid_filters_parse_to_canonical_form() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
            (r#"USERNAME Eq "x""#, r#"USERNAME eq "x""#),
            (r#"userName EQ "x" AND active eq TRUE"#, r#"userName eq "x" and active eq true"#),
            (r#"name.familyName co "O'Malley""#, r#"name.familyName co "O'Malley""#),
            (r#"userName sw "J""#, r#"userName sw "J""#),
            (r#"userName Ew "n""#, r#"userName ew "n""#),
            (r#"userName NE "x""#, r#"userName ne "x""#),
            ("title pr", "title pr"),
            ("title PR", "title pr"),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
            (r#"meta.lastModified GE "2011-05-13T04:42:34Z""#, r#"meta.lastModified ge "2011-05-13T04:42:34Z""#),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, r#"meta.lastModified lt "2011-05-13T04:42:34Z""#),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, r#"meta.lastModified le "2011-05-13T04:42:34Z""#),
            (r#"title pr and userType eq "Employee""#, r#"title pr and userType eq "Employee""#),
            (r#"title pr or userType eq "Intern""#, r#"title pr or userType eq "Intern""#),
            (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#),
            (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#),
            (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, r#"userType eq "Employee" and emails.type eq "work""#),
            (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
            (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#),
            ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
            ("(a eq 1 or b eq 2) and c eq 3", "(a eq 1 or b eq 2) and c eq 3"),
            ("a eq 1 and (b eq 2 and c eq 3)", "a eq 1 and (b eq 2 and c eq 3)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
            ("((a eq 1))", "a eq 1"),
            ("not(a pr)", "not (a pr)"),
            ("NOT  (a pr)", "not (a pr)"),
            ("not (not (a pr))", "not (not (a pr))"),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "Ba""#, r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "Ba""#),
            (r#"userName eq "a \"quoted\" \\ name""#, r#"userName eq "a \"quoted\" \\ name""#),
            (r#"userName eq "caf\u00e9\/""#, r#"userName eq "café/""#),
            (r#"x eq "\ud83d\ude00 tab\there""#, r#"x eq "😀 tab\there""#),
            (r#"displayName eq "日本語 ☃""#, r#"displayName eq "日本語 ☃""#),
            ("loginCount gt -5", "loginCount gt -5"),
            ("score le 1.5e3", "score le 1500.0"),
            ("score eq 0.25", "score eq 0.25"),
            ("active eq False", "active eq false"),
            ("manager eq NULL", "manager eq null"),
            (r#"members eq "x""#, r#"members eq "x""#),
            (r#"id eq "a" and members eq "b""#, r#"id eq "a" and members eq "b""#),
            (r#"members[$ref eq "https://x/Users/1"]"#, r#"members[$ref eq "https://x/Users/1"]"#),
            (r#"emails[type eq "work"].value eq "x""#, r#"emails[type eq "work" and value eq "x"]"#),
            (r#"emails[type eq "work" or type eq "home"].value pr"#, r#"emails[(type eq "work" or type eq "home") and value pr]"#),
            (r#"emails[not (type eq "work")]"#, r#"emails[not (type eq "work")]"#),
            (r#"name[givenName eq "x"]"#, r#"name[givenName eq "x"]"#),
            ("  \tuserName   eq\t\"x\"  ", r#"userName eq "x""#),
            (r#"userName eq"x""#, r#"userName eq "x""#),
            (r#"not eq "x""#, r#"not eq "x""#),
        ];
        assert!(cases.len() >= 40);
        for (input, want) in cases {
            assert_eq!(shown(input), *want, "input: {input}");
            assert_eq!(shown(want), *want, "canonical form must be stable: {want}");
        }
    }

    #[test]
    fn ast_shapes() {
        let cmp = |name: &str, v: Value| Filter::Compare {
            path: AttrPath::new(name),
            op: CompareOp::Eq,
            value: v,
        };
        let bx = Box::new;
        let (a, b, c) = (cmp("a", json!(1)), cmp("b", json!(2)), cmp("c", json!(3)));
        let f = parse_filter("a eq 1 or b eq 2 and c eq 3").unwrap();
        let and = Filter::And(bx(b.clone()), bx(c.clone()));
        assert_eq!(f, Filter::Or(bx(a.clone()), bx(and)));
        let f = parse_filter("not (a eq 1) and b eq 2 or c eq 3").unwrap();
        let and = Filter::And(bx(Filter::Not(bx(a))), bx(b));
        assert_eq!(f, Filter::Or(bx(and), bx(c)));

        let path = |urn: &str, name: &str, sub: &str| AttrPath {
            urn: Some(urn.into()),
            name: name.into(),
            sub: Some(sub.into()),
        };
        let f = parse_filter(&format!("{ENT}:manager.value eq \"m\"")).unwrap();
        assert!(matches!(f, Filter::Compare { path: p, .. } if p == path(ENT, "manager", "value")));
        let f = parse_filter(&format!("{CORE}:name.givenName pr")).unwrap();
        assert_eq!(f, Filter::Present(path(CORE, "name", "givenName")));

        let f = parse_filter(r#"emails[type eq "work"].value eq "x""#).unwrap();
        let inner = Filter::And(bx(cmp("type", json!("work"))), bx(cmp("value", json!("x"))));
        let want = Filter::ValuePath {
            path: AttrPath::new("emails"),
            filter: bx(inner),
        };
        assert_eq!(f, want);
        assert_eq!(parse_filter("x eq -12").unwrap(), cmp("x", json!(-12)));
        assert_eq!(parse_filter("x eq 2.5E-1").unwrap(), cmp("x", json!(0.25)));
    }

    #[test]
    fn invalid_filters_have_precise_messages() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "filter is empty"),
            ("   \t", "filter is empty"),
            (r#"userName equals "x""#, "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after 'userName' at position 9, found 'equals'"),
            ("userName eq", "expected a value (a quoted string, number, true, false or null) after 'eq' at position 11, found end of input"),
            ("userName eq x", "after 'eq' at position 12, found 'x'"),
            ("userName eq 'x'", "found ''x''"),
            ("userName eq 1e400", "after 'eq' at position 12, found '1e400'"),
            (r#"userName eq "abc"#, "unterminated string starting at position 12"),
            (r#"userName eq "abc\"#, "unterminated string starting at position 12"),
            (r#"(userName eq "x""#, "missing ')' to close the '(' at position 0"),
            (r#"userName eq "x")"#, "')' at position 15 has no matching '('"),
            (r#"emails[type eq "work""#, "missing ']' to close the '[' at position 6"),
            (r#"emails[type eq "work"]]"#, "']' at position 22 has no matching '['"),
            (r#"userName eq "x" garbage"#, "expected 'and', 'or' or end of input at position 16, found 'garbage'"),
            (r#"userName eq "a\qb""#, r"invalid escape '\q' at position 14"),
            (r#"userName eq "\u12""#, "invalid unicode escape at position 13"),
            (r#"userName eq "\ud800x""#, "invalid unicode escape at position 13"),
            (r#"emails[type eq "work" and addresses[type eq "x"]]"#, "value filters cannot be nested"),
            (r#"emails[type eq "work"].value"#, "after 'emails[...].value' at position 28, found end of input"),
            (r#"emails[type eq "work"]."#, "expected a sub-attribute name after '.' at position 23"),
            (r#"not userName eq "x""#, "expected '(' after 'not' at position 4, found 'userName'"),
            (r#"userName eq "x" or"#, "expected an attribute path, '(' or 'not' at position 18, found end of input"),
            (r#"1userName eq "x""#, "invalid attribute name '1userName' at position 0"),
            (r#"name.given.x eq "x""#, "invalid attribute name 'given.x' at position 5"),
            (r#"urn:foo eq "x""#, "incomplete schema URN"),
            (r#"emails.type[value eq "x"]"#, "cannot follow the sub-attribute path 'emails.type'"),
            (r#"emails[name.givenName eq "x"]"#, "inside '[...]' use a plain sub-attribute name"),
            ("()", "expected an attribute path, '(' or 'not' at position 1, found ')'"),
            ("(a pr b pr)", "expected 'and', 'or' or ')' at position 6, found 'b'"),
            (r#""x" eq userName"#, r#"at position 0, found "x""#),
            ("emails[]", "at position 7, found ']'"),
        ];
        assert!(cases.len() >= 25);
        for (input, want) in cases {
            match parse_filter(input) {
                Ok(f) => panic!("{input:?} parsed as {f}"),
                Err(e) => assert!(e.0.contains(want), "{input:?}: {e} lacks {want:?}"),
            }
        }
    }

    #[test]
    fn limits() {
        let nest = |n: usize, open: &str| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        assert!(parse_filter(&nest(32, "(")).is_ok());
        assert!(parse_filter(&nest(32, "not (")).is_ok());
        for bad in [nest(33, "("), nest(33, "not("), "(".repeat(4096)] {
            let e = parse_filter(&bad).unwrap_err();
            assert!(e.0.contains("32 levels"), "{e}");
        }
        let in_brackets = |n| format!("emails[{}type pr{}]", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&in_brackets(31)).is_ok());
        assert!(parse_filter(&in_brackets(32)).unwrap_err().0.contains("32"));

        let long = format!("userName eq \"{}\"", "é".repeat(MAX_FILTER_LEN - 14));
        assert_eq!(long.chars().count(), MAX_FILTER_LEN);
        assert!(parse_filter(&long).is_ok());
        let e = parse_filter(&format!("{long} ")).unwrap_err();
        assert_eq!(e.0, "filter is longer than 4096 characters");
        let e = parse_patch_path(&"a".repeat(5000)).unwrap_err();
        assert_eq!(e.0, "PATCH path is longer than 4096 characters");

        // A flat chain is not nesting, and the recursive check/eval/Display must cope with it.
        let chain = vec!["userName pr"; 250].join(" or ");
        let f = parse_filter(&chain).unwrap();
        assert_eq!(f.to_string(), chain);
        f.check(&Schema).unwrap();
        assert!(!f.matches(&json!({}), &Schema));
    }

    #[test]
    fn patch_paths() {
        let ok = [
            "active",
            "name.familyName",
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"]"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            r#"roles[primary eq "True"].value"#,
            r#"addresses[type eq "work"].streetAddress"#,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            r#" emails[type eq "work" and (primary eq true or value co "@x")] "#,
        ];
        for input in ok {
            let p = parse_patch_path(input);
            assert!(p.is_ok(), "{input}: {p:?}");
        }
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.value_filter.unwrap().to_string(), r#"type eq "work""#);
        let p = parse_patch_path(&format!("{ENT}:manager.value")).unwrap();
        let a = &p.attr;
        assert_eq!(a.urn.as_deref(), Some(ENT));
        assert_eq!(
            (a.name.as_str(), a.sub.as_deref()),
            ("manager", Some("value"))
        );
        assert_eq!((p.value_filter, p.sub), (None, None));

        #[rustfmt::skip]
        let bad = [
            ("", "PATCH path is empty"),
            ("emails[", "expected an attribute path, '(' or 'not' at position 7, found end of input"),
            (r#"emails[type eq "work""#, "missing ']' to close the '[' at position 6"),
            (r#"emails[type eq "work"]."#, "expected a sub-attribute name after '.' at position 23"),
            (r#"members[value eq "x"]]"#, "unexpected ']' at position 21 after the PATCH path"),
            (r#"userName eq "x""#, "a PATCH path cannot contain a comparison: unexpected 'eq' at position 9"),
            (r#"emails[type eq "work"] .value"#, "unexpected '.value' at position 23"),
            (r#"emails[type eq "work"].value.x"#, "invalid attribute name 'value.x'"),
            ("(userName)", "expected an attribute path at position 0, found '('"),
        ];
        for (input, want) in bad {
            let e = parse_patch_path(input).unwrap_err();
            assert!(e.0.contains(want), "{input:?}: {e}");
        }
        let p = parse_attr_path("name.givenName").unwrap();
        assert_eq!(p.sub.as_deref(), Some("givenName"));
        assert!(parse_attr_path("a b").is_err());
    }

    /// User/Group-like schema: (in enterprise extension, name, sub, kind, caseExact, multi).
    struct Schema;
    type Row = (
        bool,
        &'static str,
        Option<&'static str>,
        AttrKind,
        bool,
        bool,
    );
    #[rustfmt::skip]
    const ATTRS: &[Row] = {
        use AttrKind::*;
        &[
            (false, "id", None, String, true, false), (false, "userName", None, String, false, false),
            (false, "nickName", None, String, false, false), (false, "title", None, String, false, false),
            (false, "externalId", None, String, true, false), (false, "active", None, Boolean, false, false),
            (false, "loginCount", None, Integer, false, false), (false, "score", None, Decimal, false, false),
            (false, "name", None, Complex, false, false),
            (false, "name", Some("givenName"), String, false, false),
            (false, "name", Some("familyName"), String, false, false),
            (false, "emails", None, Complex, false, true),
            (false, "emails", Some("value"), String, false, true),
            (false, "emails", Some("type"), String, false, true),
            (false, "emails", Some("primary"), Boolean, false, true),
            (false, "members", None, Complex, false, true),
            (false, "members", Some("value"), String, true, true),
            (false, "members", Some("display"), String, false, true),
            (false, "members", Some("$ref"), Reference, true, true),
            (false, "x509Certificates", None, Complex, false, true),
            (false, "x509Certificates", Some("value"), Binary, true, true),
            (false, "meta", None, Complex, false, false),
            (false, "meta", Some("lastModified"), DateTime, false, false),
            (true, "employeeNumber", None, String, false, false),
            (true, "manager", None, Complex, false, false),
            (true, "manager", Some("value"), String, false, false),
        ]
    };

    impl AttrTypes for Schema {
        fn locate(&self, path: &AttrPath) -> Option<Located> {
            let ext = match &path.urn {
                None => false,
                Some(u) if u.eq_ignore_ascii_case(CORE) => false,
                Some(u) if u.eq_ignore_ascii_case(ENT) => true,
                Some(_) => return None,
            };
            let same = |a: Option<&str>, b: Option<&String>| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            };
            let row = ATTRS.iter().find(|r| {
                r.0 == ext && r.1.eq_ignore_ascii_case(&path.name) && same(r.2, path.sub.as_ref())
            })?;
            Some(Located {
                container: row.0.then(|| ENT.to_string()),
                name: row.1.into(),
                sub: row.2.map(Into::into),
                kind: row.3,
                case_exact: row.4,
                multi_valued: row.5,
            })
        }
    }

    fn user() -> Value {
        json!({
            "id": "2819c223", "userName": "BJensen", "nickName": "", "externalId": "Ext-1",
            "active": true, "loginCount": 42, "score": 3.5,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "members": [],
            "x509Certificates": [{"value": "TUlJ"}],
            "meta": {"resourceType": "User", "lastModified": "2026-01-01T00:00:00Z"},
            ENT: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
        })
    }

    #[test]
    fn evaluation() {
        let u = user();
        let g =
            json!({"id": "g1", "members": [{"value": "u1"}, {"value": "u2", "display": "Bob"}]});
        let old = json!({"USERNAME": "Old", "Emails": [{"Value": "o@x", "TYPE": "work"}]});
        let ent_number = format!(r#"{ENT}:employeeNumber eq "701984""#);
        let ent_manager = format!(r#"{ENT}:manager.value eq "26118915""#);
        #[rustfmt::skip]
        let cases: &[(&Value, &str, bool)] = &[
            (&u, r#"userName eq "bjensen""#, true),
            (&u, r#"USERNAME eq "BJENSEN""#, true),
            (&u, r#"userName ne "bjensen""#, false),
            (&u, r#"userName co "JEN""#, true),
            (&u, r#"userName sw "bj""#, true),
            (&u, r#"userName ew "SEN""#, true),
            (&u, r#"userName gt "a""#, true),
            (&u, r#"userName lt "a""#, false),
            (&u, r#"userName ge "bjensen" and userName le "BJENSEN""#, true),
            (&u, r#"externalId eq "ext-1""#, false),
            (&u, r#"externalId eq "Ext-1" and externalId co "xt" and externalId sw "E""#, true),
            (&u, "active eq true", true),
            (&u, r#"active eq "True""#, true),
            (&u, r#"active eq "FALSE""#, false),
            (&u, "active ne false", true),
            (&u, r#"emails co "@example.com""#, true),
            (&u, r#"emails.value ew "JENSEN.org""#, true),
            (&u, r#"emails.type eq "home""#, true),
            (&u, r#"emails.type eq "other""#, false),
            (&u, r#"emails.type ne "work""#, false),
            (&u, r#"emails[type eq "work" and value co "example"]"#, true),
            (&u, r#"emails[type eq "home" and value co "example"]"#, false),
            (&u, r#"emails[primary eq "true"]"#, true),
            (&u, r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
            (&u, r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
            (&u, r#"name.givenName eq "barbara""#, true),
            (&u, r#"name eq "Barbara""#, false),
            (&u, r#"name[givenName eq "Barbara"]"#, true),
            (&u, "name pr", true),
            (&u, r#"meta.lastModified eq "2026-01-01T01:00:00+01:00""#, true),
            (&u, r#"meta.lastModified le "2025-12-31T19:00:00-05:00""#, true),
            (&u, r#"meta.lastModified gt "2025-12-31T23:59:59Z""#, true),
            (&u, r#"meta.lastModified lt "2026-01-01T00:30:00+01:00""#, false),
            (&u, r#"meta.lastModified ge "2026-01-01T00:00:00.001Z""#, false),
            (&u, "loginCount gt 41 and loginCount eq 42.0 and loginCount ge 42", true),
            (&u, "loginCount lt 42 or loginCount le 41", false),
            (&u, "score ge 3.5 and score lt 3.75", true),
            (&u, r#"x509Certificates eq "TUlJ""#, true),
            (&u, r#"x509Certificates eq "tulj""#, false),
            (&u, "members pr", false),
            (&u, "members eq null", true),
            (&u, "members ne null", false),
            (&u, "nickName pr", false),
            (&u, "title pr", false),
            (&u, r#"title ne "x""#, true),
            (&u, "title eq null", true),
            (&u, "userName ne null", true),
            (&u, &ent_number, true),
            (&u, &ent_manager, true),
            (&u, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER sw "70""#, true),
            (&u, r#"not (userName eq "bjensen")"#, false),
            (&u, r#"userName eq "x" or active eq true"#, true),
            (&u, r#"userName eq "bjensen" and active eq false"#, false),
            (&u, r#"unknown eq "x""#, false),
            (&g, r#"members eq "u2""#, true),
            (&g, r#"members eq "U2""#, false),
            (&g, r#"members[value eq "u1"]"#, true),
            (&g, r#"id eq "g1" and members eq "u1""#, true),
            (&g, "members pr", true),
            (&g, r#"members.display eq "bob""#, true),
            (&old, r#"userName eq "old" and emails[type eq "WORK" and value eq "o@x"]"#, true),
        ];
        for (resource, filter, want) in cases {
            let f = parse_filter(filter).unwrap();
            assert_eq!(f.matches(resource, &Schema), *want, "{filter}");
        }
    }

    #[test]
    fn element_matching_for_patch() {
        let p = parse_patch_path(r#"emails[type eq "WORK" and not (primary eq false)]"#).unwrap();
        let f = p.value_filter.unwrap();
        let outer = p.attr;
        let m = |e: Value| f.matches_element(&e, &outer, &Schema);
        assert!(m(json!({"value": "a@x", "type": "work"})));
        assert!(!m(json!({"value": "a@x", "type": "home"})));
        assert!(!m(json!({"type": "work", "primary": false})));
        assert!(!m(json!("not an object")));
    }

    #[test]
    fn schema_check() {
        let manager = format!(r#"{ENT}:manager.value eq "x""#);
        let ok = [
            r#"emails co "@x""#,
            r#"active eq "TRUE""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34+02:00""#,
            r#"members[$ref eq "x"] and members.value eq "y""#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"name eq "x" or title eq null"#,
            &manager,
            "loginCount gt 1.5",
        ];
        for input in ok {
            let checked = parse_filter(input).unwrap().check(&Schema);
            assert_eq!(checked, Ok(()), "{input}");
        }
        #[rustfmt::skip]
        let bad = [
            (r#"foo eq "x""#, "unknown attribute 'foo'"),
            (r#"emails[foo eq "x"]"#, "unknown attribute 'emails.foo'"),
            (r#"urn:x:y:userName eq "x""#, "unknown attribute 'urn:x:y:userName'"),
            ("active gt true", "operator 'gt' is not supported on boolean attribute 'active' (use eq or ne)"),
            (r#"active eq "yes""#, r#"boolean attribute 'active' must be compared with true or false, found "yes""#),
            ("active eq 1", "found 1"),
            (r#"meta.lastModified gt "yesterday""#, r#"RFC 3339 timestamp such as "2011-05-13T04:42:34Z", found "yesterday""#),
            (r#"meta.lastModified gt "2011-05-13""#, "RFC 3339"),
            (r#"meta.lastModified co "2011""#, "operator 'co' is not supported on dateTime"),
            (r#"loginCount eq "42""#, r#"integer attribute 'loginCount' must be compared with a number, found "42""#),
            (r#"score sw "4""#, "operator 'sw' is not supported on decimal attribute 'score'"),
            ("userName gt null", "operator 'gt' cannot compare 'userName' with null"),
            (r#"x509Certificates gt "a""#, "operator 'gt' is not supported on binary attribute 'x509Certificates'"),
            (r#"name co "x""#, "not supported on complex attribute 'name'"),
            (r#"userName[value eq "x"]"#, "needs a complex attribute, but 'userName' is a string attribute"),
        ];
        for (input, want) in bad {
            let e = parse_filter(input).unwrap().check(&Schema).unwrap_err();
            assert!(e.0.contains(want), "{input}: {e}");
        }
    }

    fn arb_name() -> BoxedStrategy<String> {
        // Keyword-like names check that the parser tells keywords from attributes by position.
        let tricky = ["$ref", "not", "and", "or", "pr", "eq", "true"].map(String::from);
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
            proptest::sample::select(tricky.to_vec())
        ]
        .boxed()
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    fn compare(path: impl Strategy<Value = AttrPath>) -> impl Strategy<Value = Filter> {
        let op = proptest::sample::select(CompareOp::ALL.to_vec());
        (path, op, arb_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value })
    }

    fn tree(leaf: impl Strategy<Value = Filter> + 'static) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(4, 24, 2, |inner| {
            let pair = (inner.clone(), inner.clone());
            prop_oneof![
                pair.clone()
                    .prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                pair.prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
    }

    fn arb_filter() -> BoxedStrategy<Filter> {
        let urn = proptest::option::of(proptest::sample::select(vec![CORE, ENT]));
        let urn = urn.prop_map(|u| u.map(String::from));
        let path = (urn.clone(), arb_name(), proptest::option::of(arb_name()))
            .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
            .boxed();
        let rel = arb_name().prop_map(AttrPath::new).boxed();
        let relative = tree(prop_oneof![
            compare(rel.clone()),
            rel.prop_map(Filter::Present)
        ]);
        let value_path = (urn, arb_name(), relative).prop_map(|(urn, name, f)| Filter::ValuePath {
            path: AttrPath {
                urn,
                name,
                sub: None,
            },
            filter: Box::new(f),
        });
        tree(prop_oneof![
            compare(path.clone()),
            path.prop_map(Filter::Present),
            value_path
        ])
    }

    proptest! {
        #[test]
        fn display_round_trips(f in arb_filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
        }

        #[test]
        fn parsing_never_panics(s in "[a-z ()\\[\\]\"\\\\.:$0-9-]{0,40}|\\PC{0,40}") {
            if let Ok(f) = parse_filter(&s) {
                prop_assert_eq!(parse_filter(&f.to_string()), Ok(f.clone()));
                let _ = f.check(&Schema);
                let _ = f.matches(&user(), &Schema);
            }
            let _ = parse_patch_path(&s);
        }
    }
}
