//! The canonical text form of filters and attribute paths: lowercase keywords, JSON literals
//! and only the parentheses the tree needs, so that printing and re-parsing gives back the same
//! AST (stored filters, logs and error messages all use it).

use std::fmt;

use super::{AttrPath, CompareOp, Filter};

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

#[cfg(test)]
mod tests {
    use super::super::parse_filter;

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
}
