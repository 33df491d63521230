//! A small JSON reader: the visitor's history as stored, the page description and the server's
//! answers are read in the module's own memory, not through a JavaScript object one property
//! at a time. It reads any JSON; what it cannot read (malformed text, nesting deeper than
//! [`MAX_DEPTH`]) is `None`, never a panic.

#[allow(unused_imports)]
use crate::prelude::*;

/// Objects and lists nested deeper than this are refused: the reader recurses.
pub const MAX_DEPTH: u32 = 64;

/// A JSON value. An object keeps its members in order; a key given twice reads as its last
/// value, as `JSON.parse` has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

static NULL: Value = Value::Null;

/// The value `text` holds, or `None` when it is not JSON.
pub fn parse(text: &str) -> Option<Value> {
    let mut r = Reader { text, at: 0, depth: 0 };
    let value = r.value()?;
    r.space();
    (r.at == text.len()).then_some(value)
}

impl Value {
    /// Member `key` of an object; `Null` when absent or when this is not an object.
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Self::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Self::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The last `n` elements of a list (the newest of a most-recent-last list, which someone
    /// else may have filled); none when this is not a list.
    pub fn newest(&self, n: usize) -> &[Value] {
        match self {
            Self::List(items) => &items[items.len().saturating_sub(n)..],
            _ => &[],
        }
    }
}

pub fn get_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).str().map(ToOwned::to_owned)
}

/// Member `key` when it is a non-empty string.
pub fn opt_str(v: &Value, key: &str) -> Option<String> {
    get_str(v, key).filter(|s| !s.is_empty())
}

pub fn get_f64(v: &Value, key: &str) -> Option<f64> {
    v.get(key).num()
}

pub fn get_u32(v: &Value, key: &str) -> u32 {
    // A float cast saturates (NaN gives 0).
    get_f64(v, key).map_or(0, |n| n as u32)
}

pub fn get_bool(v: &Value, key: &str) -> Option<bool> {
    v.get(key).bool()
}

/// The strings among the last `n` elements of list `v`.
pub fn strings(v: &Value, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for item in v.newest(n) {
        out.extend(item.str().map(ToOwned::to_owned));
    }
    out
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
}

impl Reader<'_> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips space, then `c` if it comes next.
    fn eat(&mut self, c: u8) -> bool {
        self.space();
        let found = self.byte() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self) -> Option<Value> {
        self.space();
        match self.byte()? {
            b'{' | b'[' => self.nested(),
            b'"' => self.string().map(Value::Str),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            _ => self.number(),
        }
    }

    /// An object or a list (the next byte opens it).
    fn nested(&mut self) -> Option<Value> {
        let object = self.byte() == Some(b'{');
        let close = if object { b'}' } else { b']' };
        self.at += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let (mut members, mut items) = (Vec::new(), Vec::new());
        if !self.eat(close) {
            loop {
                if object {
                    self.space();
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    members.push((key, self.value()?));
                } else {
                    items.push(self.value()?);
                }
                if self.eat(close) {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        self.depth -= 1;
        Some(if object { Value::Obj(members) } else { Value::List(items) })
    }

    fn word(&mut self, word: &str, value: Value) -> Option<Value> {
        let found = self.text.get(self.at..)?.starts_with(word);
        self.at += word.len();
        found.then_some(value)
    }

    /// A string (the next byte opens it). A lone surrogate escape reads as U+FFFD, as the
    /// browser's `TextEncoder` writes one.
    fn string(&mut self) -> Option<String> {
        if self.byte() != Some(b'"') {
            return None;
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while self.byte().is_some_and(|c| c != b'"' && c != b'\\' && c >= 0x20) {
                self.at += 1;
            }
            // Cut at ASCII bytes: always on character boundaries.
            out.push_str(self.text.get(start..self.at)?);
            let c = self.byte()?;
            self.at += 1;
            if c == b'"' {
                return Some(out);
            }
            if c != b'\\' {
                return None;
            }
            let escaped = self.byte()?;
            self.at += 1;
            out.push(match escaped {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode()?,
                _ => return None,
            });
        }
    }

    /// The character of a `\u` escape (its `\u` read), with a surrogate pair's second half.
    fn unicode(&mut self) -> Option<char> {
        let high = self.hex()?;
        let pair = (0xD800..0xDC00).contains(&high) && self.text.get(self.at..)?.starts_with("\\u");
        if pair {
            let before = self.at;
            self.at += 2;
            let low = self.hex()?;
            if (0xDC00..0xE000).contains(&low) {
                return char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
            }
            // Not a second half: read on its own.
            self.at = before;
        }
        Some(char::from_u32(high).unwrap_or('\u{FFFD}'))
    }

    fn hex(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        self.at += 4;
        let mut n = 0;
        for c in digits.chars() {
            n = n * 16 + c.to_digit(16)?;
        }
        Some(n)
    }

    /// A number: exact for integers up to 2^53 (every number the widget stores), close for
    /// the rest. (Leading zeros, which JSON does not allow, are read as digits.)
    fn number(&mut self) -> Option<Value> {
        let negative = self.byte() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let (mut n, _, whole) = self.digits(0.0, u32::MAX);
        if !whole {
            return None;
        }
        if self.byte() == Some(b'.') {
            self.at += 1;
            // Past 17 places a digit changes nothing an f64 holds (and 10^places would overflow).
            let (fraction, places, any) = self.digits(n, 17);
            if !any {
                return None;
            }
            n = fraction / pow10(places);
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            self.at += 1;
            let minus = self.byte() == Some(b'-');
            if matches!(self.byte(), Some(b'-' | b'+')) {
                self.at += 1;
            }
            let (e, _, any) = self.digits(0.0, u32::MAX);
            if !any {
                return None;
            }
            let e = pow10(e.min(400.0) as u32);
            n = if minus { n / e } else { n * e };
        }
        Some(Value::Num(if negative { -n } else { n }))
    }

    /// `n` followed by the digits that come next (at most `max` of them: the rest are read
    /// and left out), how many it took, and whether there was one.
    fn digits(&mut self, mut n: f64, max: u32) -> (f64, u32, bool) {
        let (start, mut taken) = (self.at, 0);
        while let Some(d @ b'0'..=b'9') = self.byte() {
            if taken < max {
                n = n * 10.0 + f64::from(d - b'0');
                taken += 1;
            }
            self.at += 1;
        }
        (n, taken, self.at > start)
    }
}

/// 10 to the power `e` (`f64::powi` needs `std`).
fn pow10(e: u32) -> f64 {
    let mut p = 1.0;
    for _ in 0..e {
        p *= 10.0;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_json_parse_reads() {
        let v = parse(r#" { "a" : [1, -2.5, 3e2, 1E-2, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "a": {"b": {}} } "#)
            .unwrap();
        assert_eq!(
            v.get("a"),
            &Value::Obj(vec![("b".into(), Value::Obj(vec![]))]),
            "the last of a repeated key"
        );
        assert_eq!(v.get("s").str(), Some("x\"\\/\u{8}\u{c}\n\r\té😀"));
        let first = parse(r#"[1, -2.5, 3e2, 1E-2, true, false, null, "", []]"#).unwrap();
        assert_eq!(
            first,
            Value::List(vec![
                Value::Num(1.0),
                Value::Num(-2.5),
                Value::Num(300.0),
                Value::Num(0.01),
                Value::Bool(true),
                Value::Bool(false),
                Value::Null,
                Value::Str(String::new()),
                Value::List(vec![]),
            ])
        );
        assert_eq!(parse("1764000000000"), Some(Value::Num(1_764_000_000_000.0)));
        assert_eq!(parse("9007199254740993").and_then(|v| v.num()), Some(9_007_199_254_740_992.0));
        assert_eq!(parse(r#""é 文字""#), Some(Value::Str("é 文字".into())));
        let long = String::from("0.") + &"3".repeat(400);
        assert!(parse(&long).and_then(|v| v.num()).is_some_and(|n| (n - 1.0 / 3.0).abs() < 1e-15), "{long}");
        assert_eq!(parse("1e400"), Some(Value::Num(f64::INFINITY)));
    }

    #[test]
    fn lone_surrogates_read_as_the_replacement_character() {
        assert_eq!(parse(r#""a\ud800b""#), Some(Value::Str("a\u{FFFD}b".into())));
        assert_eq!(parse(r#""\udc00""#), Some(Value::Str("\u{FFFD}".into())));
        assert_eq!(parse(r#""\ud800\u0041""#), Some(Value::Str("\u{FFFD}A".into())));
    }

    #[test]
    fn what_is_not_json_is_none() {
        for text in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "tru",
            "nul",
            "True",
            "\"open",
            "\"bad \\x escape\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"tab\there\"",
            "-",
            "1.",
            ".5",
            "1e",
            "1 2",
            "[1] x",
            "01x",
            "\"\\ud800\\u00\"",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(&deep(MAX_DEPTH as usize)).is_some());
        assert_eq!(parse(&deep(MAX_DEPTH as usize + 1)), None);
        assert_eq!(parse(&"[".repeat(100_000)), None);
    }

    #[test]
    fn readers_take_only_their_kind() {
        let v = parse(
            r#"{"s": "x", "e": "", "n": 4.9, "big": 1e20, "neg": -3, "b": true, "l": ["a", 1, "b", "c"]}"#,
        )
        .unwrap();
        assert_eq!((get_str(&v, "s"), opt_str(&v, "e"), get_str(&v, "n")), (Some("x".into()), None, None));
        assert_eq!(
            (get_u32(&v, "n"), get_u32(&v, "big"), get_u32(&v, "neg"), get_u32(&v, "s")),
            (4, u32::MAX, 0, 0)
        );
        assert_eq!((get_bool(&v, "b"), get_bool(&v, "s"), get_f64(&v, "missing")), (Some(true), None, None));
        assert_eq!(strings(v.get("l"), 3), ["b", "c"]);
        assert_eq!(strings(v.get("s"), 3), Vec::<String>::new());
        assert_eq!(v.get("l").get("x"), &Value::Null);
    }
}
