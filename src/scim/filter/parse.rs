//! The filter parser: tokens to the AST, for the three entry points (`filter`, PATCH `path`,
//! bare attribute paths such as `sortBy`), with the length and nesting limits enforced while
//! parsing so hostile input cannot exhaust the stack.

use serde_json::{Number, Value};

use super::lex::{lex, Tok, Token};
use super::{
    err, AttrPath, CompareOp, Filter, FilterError, PatchPath, Result, MAX_FILTER_DEPTH,
    MAX_FILTER_LEN,
};

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

#[cfg(test)]
mod tests {
    use super::super::fixture::{CORE, ENT};
    use super::*;
    use serde_json::json;

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
}
