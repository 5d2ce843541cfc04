//! The filter lexer: turns the input's characters into tokens (parentheses, brackets, words
//! and decoded JSON strings), each with its character span for error messages.
//!
//! It knows no keywords: whether a word is an attribute path, an operator or a literal is the
//! parser's call, from its position.

use serde_json::Value;

use super::{err, Result};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Character offset of the first character.
    pub(super) pos: usize,
    /// Character offset after the last character.
    pub(super) end: usize,
}

impl Token {
    pub(super) fn describe(&self) -> String {
        match &self.tok {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => Value::String(s.clone()).to_string(),
        }
    }

    pub(super) fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    pub(super) fn is_keyword(&self, kw: &str) -> bool {
        self.word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }
}

pub(super) fn lex(chars: &[char]) -> Result<Vec<Token>> {
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
