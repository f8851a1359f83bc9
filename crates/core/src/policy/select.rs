//! Resources named by what they carry instead of by name: `tag:KEY=VALUE`
//! (every resource of the type with that tag) and `*` (every resource of
//! the type in the account). A grant by selector compiles to an ARN pattern
//! with an `aws:ResourceTag/KEY` condition instead of a list of ARNs, so it
//! stays one statement however many resources carry the tag, and covers
//! those tagged later too (within the deadline).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Tag { key: String, value: String },
    Any,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Tag { key, value } => write!(f, "tag:{key}={value}"),
            Selector::Any => f.write_str("*"),
        }
    }
}

/// The characters AWS allows in tag keys and values (letters, digits,
/// spaces and `_ . : / = + - @`), kept to ASCII. Everything else — above
/// all `$`, `{`, `}` (IAM policy variables), `*` and `?` (wildcards), quotes
/// and control characters — is refused.
fn tag_text(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c))
}

impl Selector {
    /// `None` when `s` names one resource; otherwise the selector, or why
    /// it is not one.
    pub fn parse(s: &str) -> Option<Result<Selector, String>> {
        if s == "*" {
            return Some(Ok(Selector::Any));
        }
        let rest = s.strip_prefix("tag:")?;
        Some(match rest.split_once('=') {
            Some((key, value)) => Selector::checked_tag(key, value).map_err(|why| format!("`{s}`: {why}")),
            None => Err(format!("`{s}` is not a tag selector: write `tag:KEY=VALUE` (a key of 1 to 128 characters)")),
        })
    }

    /// The selector of a tag, when IAM can match it as written: `None` for
    /// a key or value that could be read as anything else.
    pub fn of_tag(key: &str, value: &str) -> Option<Selector> {
        Selector::checked_tag(key, value).ok().filter(|s| Selector::parse(&s.to_string()) == Some(Ok(s.clone())))
    }

    fn checked_tag(key: &str, value: &str) -> Result<Selector, String> {
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            Err("a tag's key holds 1 to 128 characters and its value at most 256: write `tag:KEY=VALUE`".into())
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            Err("tags starting with `aws:` are AWS's own; name a tag of yours".into())
        } else if !tag_text(key) || !tag_text(value) {
            Err("a tag's key and value hold letters, digits, spaces and `_ . : / = + - @` only".into())
        } else {
            Ok(Selector::Tag { key: key.to_owned(), value: value.to_owned() })
        }
    }

    /// The tag it selects by, if any.
    pub fn tag(&self) -> Option<(&str, &str)> {
        match self {
            Selector::Tag { key, value } => Some((key, value)),
            Selector::Any => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_hostile_tags_are_refused() {
        assert_eq!(Selector::parse("orders"), None, "a name");
        assert_eq!(Selector::parse("arn:aws:sqs:us-east-1:1:q"), None);
        assert_eq!(Selector::parse("*"), Some(Ok(Selector::Any)));
        assert_eq!(Selector::parse("tag:team=payments"), Some(Ok(Selector::Tag { key: "team".into(), value: "payments".into() })));
        assert_eq!(Selector::parse("tag:cost center=a/b=c"), Some(Ok(Selector::Tag { key: "cost center".into(), value: "a/b=c".into() })), "the first `=` splits");
        assert_eq!(Selector::parse("tag:env="), Some(Ok(Selector::Tag { key: "env".into(), value: String::new() })), "an empty value is a value");
        for bad in ["tag:", "tag:=x", "tag:env", "tag:aws:cloudformation:stack-name=x", "tag:env=${aws:username}", "tag:env=*", "tag:e?v=x", "tag:env=\"x", "tag:env=a\nb", "tag:énv=x"] {
            assert!(matches!(Selector::parse(bad), Some(Err(_))), "{bad:?}");
        }
        assert_eq!(Selector::parse("tag:team=payments").unwrap().unwrap().to_string(), "tag:team=payments");
        // Built from a key and value: only what reads back the same.
        assert_eq!(Selector::of_tag("team", "a=b"), Some(Selector::Tag { key: "team".into(), value: "a=b".into() }));
        assert_eq!(Selector::of_tag("a=b", "c"), None, "a key with `=` would read back as another tag");
        assert_eq!(Selector::of_tag("team", "${aws:username}"), None);
        assert_eq!(Selector::of_tag("aws:x", "y"), None);
    }
}
