//! Betterleaks' `filter` expressions (CEL), for the subset its provider rules use: a finding is
//! discarded when its rule's filter is true.
//!
//! Read: `entropy(x)`, `len(x)`, `matchesAny(x, [regexes])`, `containsAny(x, [words])` (ASCII
//! case ignored) on `finding["secret"]`, `finding["match"]`, `finding["line"]` and
//! `attributes["path"]` (a transcript has none: the empty string); numbers, comparisons, `!`,
//! `&&`, `||` and parentheses. Anything else (`tokenRatio`, which needs OpenAI's cl100k
//! tokenizer; `let` bindings, `findMatch`, ...) is *unknown*, and the logic is three-valued:
//! `unknown || true` is true, `unknown && false` false. An expression this module cannot parse
//! at all is unknown as a whole. What is unknown the caller decides by its own judgement.

use std::sync::OnceLock;

use regex::bytes::Regex;

/// What a filter reads of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Secret,
    Match,
    Line,
    /// `attributes["path"]`: a transcript's text has no file path of its own.
    Path,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A parsed filter.
#[derive(Debug)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Op, Box<Expr>, Box<Expr>),
    Num(f64),
    Str(String),
    Field(Field),
    Entropy(Box<Expr>),
    Len(Box<Expr>),
    /// Regexes compiled on first use (most rules never run in a session).
    Matches(Box<Expr>, Vec<String>, OnceLock<Vec<Regex>>),
    /// Lower case.
    Contains(Box<Expr>, Vec<String>),
    /// A call or construct this module does not evaluate.
    Unknown,
}

/// The finding a filter is evaluated on.
pub struct Finding<'a> {
    pub secret: &'a [u8],
    pub matched: &'a [u8],
    pub line: &'a [u8],
}

enum Value<'a> {
    Bool(Option<bool>),
    Num(Option<f64>),
    Str(Option<&'a [u8]>),
}

impl Expr {
    /// Whether the filter discards `finding`: `Some(true)` discard, `Some(false)` keep, `None`
    /// unknown (it rests on something this module does not evaluate).
    pub fn discards(&self, finding: &Finding) -> Option<bool> {
        match self.eval(finding) {
            Value::Bool(b) => b,
            _ => None,
        }
    }

    /// Whether the filter holds anything unknown (so its verdict may be unknown).
    pub fn has_unknown(&self) -> bool {
        match self {
            Expr::Unknown => true,
            Expr::Or(a, b) | Expr::And(a, b) | Expr::Cmp(_, a, b) => {
                a.has_unknown() || b.has_unknown()
            }
            Expr::Not(a) | Expr::Entropy(a) | Expr::Len(a) => a.has_unknown(),
            Expr::Matches(a, ..) | Expr::Contains(a, _) => a.has_unknown(),
            Expr::Num(_) | Expr::Str(_) | Expr::Field(_) => false,
        }
    }

    fn eval<'a>(&'a self, f: &Finding<'a>) -> Value<'a> {
        match self {
            Expr::Or(a, b) => Value::Bool(or(a.truth(f), || b.truth(f))),
            Expr::And(a, b) => Value::Bool(match a.truth(f) {
                Some(false) => Some(false),
                left => match (left, b.truth(f)) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
            }),
            Expr::Not(a) => Value::Bool(a.truth(f).map(|b| !b)),
            Expr::Cmp(op, a, b) => Value::Bool(compare(*op, a.eval(f), b.eval(f))),
            Expr::Num(n) => Value::Num(Some(*n)),
            Expr::Str(s) => Value::Str(Some(s.as_bytes())),
            Expr::Field(field) => Value::Str(Some(match field {
                Field::Secret => f.secret,
                Field::Match => f.matched,
                Field::Line => f.line,
                Field::Path => b"",
            })),
            Expr::Entropy(a) => Value::Num(a.text(f).map(super::super::entropy::shannon)),
            Expr::Len(a) => Value::Num(
                a.text(f)
                    .map(|t| String::from_utf8_lossy(t).chars().count() as f64),
            ),
            Expr::Matches(a, patterns, compiled) => Value::Bool(a.text(f).map(|t| {
                compiled
                    .get_or_init(|| {
                        patterns
                            .iter()
                            .filter_map(|p| super::compile(p).ok())
                            .collect()
                    })
                    .iter()
                    .any(|r| r.is_match(t))
            })),
            Expr::Contains(a, words) => Value::Bool(a.text(f).map(|t| {
                let lower = t.to_ascii_lowercase();
                words
                    .iter()
                    .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
            })),
            Expr::Unknown => Value::Bool(None),
        }
    }

    fn truth(&self, f: &Finding) -> Option<bool> {
        match self.eval(f) {
            Value::Bool(b) => b,
            _ => None,
        }
    }

    fn text<'a>(&'a self, f: &Finding<'a>) -> Option<&'a [u8]> {
        match self.eval(f) {
            Value::Str(s) => s,
            _ => None,
        }
    }
}

/// Three-valued `||` (the right side evaluated only when the left does not decide).
fn or(left: Option<bool>, right: impl FnOnce() -> Option<bool>) -> Option<bool> {
    match left {
        Some(true) => Some(true),
        left => match (left, right()) {
            (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn compare(op: Op, a: Value, b: Value) -> Option<bool> {
    let (a, b) = match (a, b) {
        (Value::Num(a), Value::Num(b)) => (a?, b?),
        (Value::Str(a), Value::Str(b)) => {
            let equal = a? == b?;
            return match op {
                Op::Eq => Some(equal),
                Op::Ne => Some(!equal),
                _ => None,
            };
        }
        _ => return None,
    };
    Some(match op {
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Eq => a == b,
        Op::Ne => a != b,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Num(f64),
    Str(String),
    Punct(&'static str),
}

const PUNCTS: &[&str] = &[
    "||", "&&", "<=", ">=", "==", "!=", "!", "<", ">", "(", ")", "[", "]", ",", "+", "-", "?", ":",
    ";", "=", "{", "}", ".", "*", "/", "%", "#",
];

fn tokens(src: &str) -> Option<Vec<Token>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("//") {
            i += src[i..].find('\n').unwrap_or(src.len() - i);
        } else if c == b'`' {
            let end = i + 1 + src[i + 1..].find('`')?;
            out.push(Token::Str(src[i + 1..end].to_owned()));
            i = end + 1;
        } else if c == b'"' || c == b'\'' {
            let (text, end) = quoted(src, i)?;
            out.push(Token::Str(text));
            i = end;
        } else if c.is_ascii_digit() {
            let end = i + src[i..]
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                .unwrap_or(src.len() - i);
            out.push(Token::Num(src[i..end].parse().ok()?));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = i + src[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
                .unwrap_or(src.len() - i);
            out.push(Token::Ident(src[i..end].to_owned()));
            i = end;
        } else {
            let p = PUNCTS.iter().find(|p| src[i..].starts_with(**p))?;
            out.push(Token::Punct(p));
            i += p.len();
        }
    }
    Some(out)
}

/// A CEL string in double or single quotes starting at `at`: its text and where it ends.
fn quoted(src: &str, at: usize) -> Option<(String, usize)> {
    let quote = src.as_bytes()[at] as char;
    let mut text = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                text.push(match e {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    other => other,
                });
            }
            c if c == quote => return Some((text, at + 1 + i + 1)),
            c => text.push(c),
        }
    }
    None
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Parses a filter; `None` when it uses syntax beyond the subset (the caller then treats the
/// whole filter as unknown).
pub fn parse(src: &str) -> Option<Expr> {
    let mut p = Parser {
        tokens: tokens(src)?,
        at: 0,
    };
    let expr = p.or()?;
    (p.at == p.tokens.len()).then_some(expr)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, punct: &str) -> bool {
        if self.peek() == Some(&Token::Punct(PUNCTS.iter().find(|p| **p == punct).unwrap())) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Option<()> {
        self.eat(punct).then_some(())
    }

    fn or(&mut self) -> Option<Expr> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.eat("!") {
            return Some(Expr::Not(Box::new(self.unary()?)));
        }
        let left = self.primary()?;
        let op = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find(|(p, _)| self.eat(p))
        .map(|(_, op)| op);
        match op {
            Some(op) => Some(Expr::Cmp(op, Box::new(left), Box::new(self.primary()?))),
            None => Some(left),
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Some(inner);
        }
        let token = self.peek()?.clone();
        self.at += 1;
        match token {
            Token::Num(n) => Some(Expr::Num(n)),
            Token::Str(s) => Some(Expr::Str(s)),
            Token::Ident(name) if self.eat("[") => {
                let Some(Token::Str(key)) = self.peek().cloned() else {
                    return None;
                };
                self.at += 1;
                self.expect("]")?;
                Some(Expr::Field(match (name.as_str(), key.as_str()) {
                    ("finding", "secret") => Field::Secret,
                    ("finding", "match") => Field::Match,
                    ("finding", "line") => Field::Line,
                    ("attributes", "path") => Field::Path,
                    _ => return Some(Expr::Unknown),
                }))
            }
            Token::Ident(name) if self.eat("(") => self.call(&name),
            _ => None,
        }
    }

    /// A call of `name`, its `(` read.
    fn call(&mut self, name: &str) -> Option<Expr> {
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.argument()?);
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        let mut args = args.into_iter();
        let (first, second) = (args.next(), args.next());
        let one = |a: Option<Arg>| match a {
            Some(Arg::Expr(e)) => Some(Box::new(e)),
            _ => None,
        };
        Some(match (name, first, second) {
            ("entropy", a, None) => Expr::Entropy(one(a)?),
            ("len" | "size", a, None) => Expr::Len(one(a)?),
            ("matchesAny", a, Some(Arg::List(list))) => {
                Expr::Matches(one(a)?, list, OnceLock::new())
            }
            ("containsAny", a, Some(Arg::List(list))) => Expr::Contains(
                one(a)?,
                list.iter().map(|w| w.to_ascii_lowercase()).collect(),
            ),
            _ => Expr::Unknown,
        })
    }

    fn argument(&mut self) -> Option<Arg> {
        if !self.eat("[") {
            return Some(Arg::Expr(self.or()?));
        }
        let mut list = Vec::new();
        while !self.eat("]") {
            let Some(Token::Str(s)) = self.peek().cloned() else {
                return None;
            };
            self.at += 1;
            list.push(s);
            if !self.eat(",") {
                self.expect("]")?;
                break;
            }
        }
        Some(Arg::List(list))
    }
}

enum Arg {
    Expr(Expr),
    List(Vec<String>),
}

/// The allow-lists written into a filter, whatever else it computes: every
/// `matchesAny(<target>, [...])` and `containsAny(<target>, [...])` whose target is a finding's
/// field or a name bound to text built from the match (`genericMatchContext`, ...: taken as the
/// match). For a filter too rich to evaluate (Betterleaks' `generic-api-key`), whose lists are
/// still the best data on what is public by design.
pub fn allow_lists(src: &str) -> Vec<(Field, bool, Vec<String>)> {
    let Some(tokens) = tokens(src) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Ident(name) = t else { continue };
        let regexes = match name.as_str() {
            "matchesAny" => true,
            "containsAny" => false,
            _ => continue,
        };
        let mut p = Parser {
            tokens: tokens[i + 1..].to_vec(),
            at: 0,
        };
        let target = if p.eat("(") {
            match p.primary() {
                Some(Expr::Field(f)) => Some(f),
                Some(Expr::Unknown) => None,
                _ => match tokens.get(i + 2) {
                    Some(Token::Ident(v)) if v.ends_with("Context") || v.ends_with("Match") => {
                        Some(Field::Match)
                    }
                    _ => None,
                },
            }
        } else {
            None
        };
        let Some(target) = target else { continue };
        // (A list that picks between two values, `matchesAny(...) ? a : b`, allows nothing.)
        if let (true, Some(Arg::List(list))) = (p.eat(","), p.argument()) {
            if p.eat(")") && !p.eat("?") {
                out.push((target, regexes, list));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(src: &str, secret: &str, line: &str) -> Option<bool> {
        parse(src).expect(src).discards(&Finding {
            secret: secret.as_bytes(),
            matched: line.as_bytes(),
            line: line.as_bytes(),
        })
    }

    #[test]
    fn the_subset_betterleaks_rules_use_evaluates() {
        let f =
            r#"entropy(finding["secret"]) <= 3.0 || matchesAny(finding["secret"], [`.+EXAMPLE$`])"#;
        assert_eq!(verdict(f, "AKIAIOSFODNN7EXAMPLE", ""), Some(true));
        assert_eq!(verdict(f, "AKIAQ7W2ZK9LP4X3RT8V", ""), Some(false));
        assert_eq!(verdict(f, "AKIAAAAAAAAAAAAAAAAA", ""), Some(true));
        let f = r#"entropy(finding["secret"]) < 3 || !matchesAny(finding["line"], ["(?i)vault"]) && len(finding["secret"]) > 4"#;
        assert_eq!(verdict(f, "Q7w2Zk9Lp4", "VAULT_TOKEN=x"), Some(false));
        assert_eq!(verdict(f, "Q7w2Zk9Lp4", "TOKEN=x"), Some(true));
        let f = r#"containsAny(finding["secret"], ["abcdefghijklmnopqrstuvwxyz", "Example"])"#;
        assert_eq!(verdict(f, "xEXAMPLEx", ""), Some(true));
        assert_eq!(
            verdict(
                r#"matchesAny(attributes["path"], [`\.php$`])"#,
                "x",
                "x.php"
            ),
            Some(false)
        );
    }

    /// `tokenRatio` is unknown: it decides nothing unless the rest decides.
    #[test]
    fn unknown_calls_are_three_valued() {
        let f = r#"entropy(finding["secret"]) < 3 || tokenRatio(finding["secret"]) >= 2.5"#;
        assert!(parse(f).unwrap().has_unknown());
        assert_eq!(verdict(f, "aaaaaaaaaa", ""), Some(true));
        assert_eq!(verdict(f, "Q7w2Zk9Lp4X3", ""), None);
        assert!(parse("let x = 1; x == 1").is_none());
    }

    #[test]
    fn allow_lists_are_read_from_rich_filters() {
        let src = r#"let nameContext = foo(finding["match"]);
            entropy(finding["secret"]) <= 3.5 || (matchesAny(genericMatchContext, [`csrf`])
            || containsAny(finding["secret"], ["abc1", "word"]))
            || matchesAny(finding["line"], [`--mount=type=secret,`])"#;
        let lists = allow_lists(src);
        assert_eq!(lists.len(), 3, "{lists:?}");
        assert_eq!(lists[0], (Field::Match, true, vec!["csrf".to_owned()]));
        assert_eq!(lists[1].0, Field::Secret);
        assert_eq!(lists[2].0, Field::Line);
    }
}
