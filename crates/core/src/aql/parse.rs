//! Text to [`Expr`]: a lexer that keeps each token's line and column, and a
//! recursive-descent parser whose errors say where and what was expected.

use super::ast::{Cond, Expr, Field, Op, KEYED_FIELDS, OPS, PLAIN_FIELDS};
use super::AqlError;

/// Longer queries are refused before they are read.
pub const MAX_LEN: usize = 64 * 1024;
/// Deeper nesting of parentheses and `not` is refused (the parser recurses).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Eq,
    Ne,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Pos {
    line: u32,
    column: u32,
}

fn err(at: Pos, message: impl Into<String>) -> AqlError {
    AqlError { line: at.line, column: at.column, message: message.into() }
}

fn lex(src: &str) -> Result<Vec<(Tok, Pos)>, AqlError> {
    let mut out = Vec::new();
    let mut pos = Pos { line: 1, column: 1 };
    let mut chars = src.chars().peekable();
    let advance = |c: char, pos: &mut Pos| {
        if c == '\n' {
            pos.line += 1;
            pos.column = 1;
        } else {
            pos.column += 1;
        }
    };
    while let Some(&c) = chars.peek() {
        let start = pos;
        if c.is_whitespace() {
            chars.next();
            advance(c, &mut pos);
            continue;
        }
        let single = match c {
            '=' => Some(Tok::Eq),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            chars.next();
            advance(c, &mut pos);
            out.push((t, start));
            continue;
        }
        match c {
            '!' => {
                chars.next();
                advance(c, &mut pos);
                if chars.peek() == Some(&'=') {
                    chars.next();
                    advance('=', &mut pos);
                    out.push((Tok::Ne, start));
                } else {
                    return Err(err(start, "unexpected `!`: write `!=` for \"not equal\", or `not` before a condition"));
                }
            }
            '"' => {
                chars.next();
                advance(c, &mut pos);
                let mut value = String::new();
                loop {
                    let Some(c) = chars.next() else {
                        return Err(err(start, "this value has no closing `\"`: add one at its end"));
                    };
                    let here = pos;
                    advance(c, &mut pos);
                    match c {
                        '"' => break,
                        '\n' | '\r' => return Err(err(here, "a value cannot span lines: close it with `\"` on the line where it starts")),
                        '\'' => return Err(err(here, "single quotes are not allowed in values")),
                        '\\' => {
                            let Some(e) = chars.next() else {
                                return Err(err(start, "this value has no closing `\"`: add one at its end"));
                            };
                            let escaped = pos;
                            advance(e, &mut pos);
                            match e {
                                '\n' | '\r' => return Err(err(escaped, "a value cannot span lines: close it with `\"` on the line where it starts")),
                                '\'' => return Err(err(escaped, "single quotes are not allowed in values")),
                                other => value.push(other),
                            }
                        }
                        other => value.push(other),
                    }
                }
                out.push((Tok::Str(value), start));
            }
            '\'' => return Err(err(start, "values are written in double quotes (`\"prod\"`): single quotes are not allowed")),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                    advance(c, &mut pos);
                }
                out.push((Tok::Word(word), start));
            }
            other => return Err(err(start, format!("unexpected character `{}`", other.escape_default()))),
        }
    }
    out.push((Tok::End, pos));
    Ok(out)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Str(s) => format!("the value \"{}\"", s.escape_default()),
        Tok::Eq => "`=`".into(),
        Tok::Ne => "`!=`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::End => "the end of the query".into(),
    }
}

/// A keyword (`and`, `or`, `not`) is written in lower or upper case.
fn is_keyword(word: &str, kw: &str) -> bool {
    word == kw || word == kw.to_ascii_uppercase()
}

/// The closest known name, by edit distance (at most 3 edits), for a
/// "did you mean" hint.
pub(crate) fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names.into_iter().map(|n| (distance(word, n), n)).filter(|(d, _)| *d <= 3).min_by_key(|(d, _)| *d).map(|(_, n)| n)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
    depth: usize,
}

pub fn parse(src: &str) -> Result<Expr, AqlError> {
    if src.len() > MAX_LEN {
        return Err(AqlError { line: 1, column: 1, message: format!("the query is longer than {MAX_LEN} bytes: split it into several access scopes") });
    }
    let mut p = Parser { toks: lex(src)?, at: 0, depth: 0 };
    if matches!(p.peek(), Tok::End) {
        return Err(err(p.pos(), "the query is empty: write a condition such as `resource_type = \"table\"`"));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::RParen => Err(err(p.pos(), "this `)` closes no `(`: remove it")),
        t => Err(err(p.pos(), format!("expected `and`, `or` or the end of the query, found {}", p.found(t)))),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.at).map_or(&Tok::End, |(t, _)| t)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.at).or(self.toks.last()).map_or(Pos { line: 1, column: 1 }, |(_, p)| *p)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.at < self.toks.len() {
            self.at += 1;
        }
        t
    }

    /// How a token is named in an error, with a hint for a keyword in the
    /// wrong case.
    fn found(&self, t: &Tok) -> String {
        if let Tok::Word(w) = t {
            for kw in ["and", "or", "not"] {
                if w.eq_ignore_ascii_case(kw) && !is_keyword(w, kw) {
                    return format!("`{w}` (write `{kw}` or `{}`)", kw.to_ascii_uppercase());
                }
            }
        }
        describe(t)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Tok::Word(w) if is_keyword(w, kw)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, AqlError> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            parts.push(self.and()?);
        }
        Ok(Expr::or(parts))
    }

    fn and(&mut self) -> Result<Expr, AqlError> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            parts.push(self.unary()?);
        }
        Ok(Expr::and(parts))
    }

    fn unary(&mut self) -> Result<Expr, AqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.pos(), format!("the query nests deeper than {MAX_DEPTH} levels: simplify it")));
        }
        let e = if self.keyword("not") {
            Expr::Not(Box::new(self.unary()?))
        } else if matches!(self.peek(), Tok::LParen) {
            let open = self.pos();
            self.next();
            let inner = self.or()?;
            match self.peek() {
                Tok::RParen => {
                    self.next();
                    inner
                }
                Tok::End => return Err(err(open, "this `(` is never closed: add `)`")),
                t => return Err(err(self.pos(), format!("expected `and`, `or` or `)`, found {}", self.found(t)))),
            }
        } else {
            Expr::Cond(self.cond()?)
        };
        self.depth -= 1;
        Ok(e)
    }

    fn cond(&mut self) -> Result<Cond, AqlError> {
        let field = self.field()?;
        let op_at = self.pos();
        let op = match self.next() {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Word(w) => match OPS.iter().find(|(s, _)| is_keyword(&w, s)) {
                Some((_, op)) => *op,
                None => {
                    let hint = closest(&w.to_ascii_lowercase(), OPS.iter().map(|(s, _)| *s)).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                    return Err(err(op_at, format!("expected an operator ({}) after `{}`, found `{w}`{hint}", op_list(), field.name())));
                }
            },
            t => return Err(err(op_at, format!("expected an operator ({}) after `{}`, found {}", op_list(), field.name(), describe(&t)))),
        };
        let values = if op.takes_list() {
            let open = self.pos();
            if self.next() != Tok::LParen {
                return Err(err(open, format!("`{}` takes a list in parentheses: `{} (\"a\", \"b\")`", op.as_str(), op.as_str())));
            }
            let mut values = Vec::new();
            loop {
                values.push(self.value(op)?);
                let at = self.pos();
                match self.next() {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    t => return Err(err(at, format!("expected `,` or `)` in the list, found {}", describe(&t)))),
                }
            }
            values
        } else {
            if matches!(self.peek(), Tok::LParen) {
                let hint = if op == Op::Ne { "not_in" } else { "in" };
                return Err(err(self.pos(), format!("`{}` takes one value: for a list write `{hint} (\"a\", \"b\")`", op.as_str())));
            }
            vec![self.value(op)?]
        };
        Ok(Cond { field, op, values })
    }

    fn value(&mut self, op: Op) -> Result<String, AqlError> {
        let at = self.pos();
        match self.next() {
            Tok::Str(s) => Ok(s),
            Tok::Word(w) => Err(err(at, format!("values are written in double quotes: write `\"{w}\"`"))),
            Tok::RParen if op.takes_list() => Err(err(at, "the list is empty: name at least one value")),
            t => Err(err(at, format!("expected a value in double quotes after `{}`, found {}", op.as_str(), describe(&t)))),
        }
    }

    fn field(&mut self) -> Result<Field, AqlError> {
        let at = self.pos();
        let word = match self.next() {
            Tok::Word(w) => w,
            Tok::Str(s) => {
                return Err(err(at, format!("expected a field before the value \"{}\": for example `resource_name = \"{}\"`", s.escape_default(), s.escape_default())));
            }
            t => return Err(err(at, format!("expected a field such as `resource_type`, `resource_name` or `resource_tag[\"env\"]`, found {}", self.found(&t)))),
        };
        if let Some(f) = Field::plain(&word) {
            if matches!(self.peek(), Tok::LBracket) {
                return Err(err(self.pos(), format!("`{word}` takes no key; the fields with a key are {}", KEYED_FIELDS.join(", "))));
            }
            return Ok(f);
        }
        if KEYED_FIELDS.contains(&word.as_str()) {
            let open = self.pos();
            if self.next() != Tok::LBracket {
                return Err(err(open, format!("`{word}` needs a key in brackets: `{word}[\"env\"]`")));
            }
            let key_at = self.pos();
            let key = match self.next() {
                Tok::Str(k) => k,
                t => return Err(err(key_at, format!("expected the key in double quotes, as in `{word}[\"env\"]`, found {}", describe(&t)))),
            };
            let close = self.pos();
            if self.next() != Tok::RBracket {
                return Err(err(close, format!("expected `]` after the key of `{word}`")));
            }
            return Field::keyed(&word, key).ok_or_else(|| err(at, format!("unknown field `{word}`")));
        }
        let names = || PLAIN_FIELDS.iter().map(|(n, _)| *n).chain(KEYED_FIELDS);
        let lower = word.to_ascii_lowercase();
        let message = if let Some(n) = names().find(|n| *n == lower) {
            format!("unknown field `{word}`: field names are case-sensitive, write `{n}`")
        } else if let Some(n) = closest(&word, names()) {
            format!("unknown field `{word}`: did you mean `{n}`?")
        } else {
            format!("unknown field `{word}`: the fields are {}", names().collect::<Vec<_>>().join(", "))
        };
        Err(err(at, message))
    }
}

fn op_list() -> String {
    OPS.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
}
