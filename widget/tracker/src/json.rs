//! A minimal JSON text writer. The tracker writes every body it sends or stores as text:
//! setting properties on JS objects one call at a time cost kilobytes of wasm.

#[allow(unused_imports)]
use crate::prelude::*;

/// Appends `s` as a JSON string literal.
#[inline(never)]
fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                for shift in [4, 0] {
                    out.push(char::from_digit((c as u32 >> shift) & 0xf, 16).unwrap_or('0'));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(&mut out, s);
    out
}

/// A JSON array of values that are already JSON.
pub fn array(items: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// A JSON array of strings.
pub fn strings(list: &[String]) -> String {
    array(list.iter().map(|s| quote(s)))
}

/// Writes one JSON object. Keys are trusted literals; values are escaped.
pub struct Object(String);

impl Object {
    pub fn new() -> Self {
        Self(String::from("{"))
    }

    #[inline(never)]
    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
        &mut self.0
    }

    #[inline(never)]
    pub fn str(mut self, key: &str, value: &str) -> Self {
        quote_into(self.key(key), value);
        self
    }

    #[inline(never)]
    pub fn opt(self, key: &str, value: &Option<String>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    #[inline(never)]
    pub fn num(mut self, key: &str, value: i64) -> Self {
        let out = self.key(key);
        if value < 0 {
            out.push('-');
        }
        funnel::score::push_decimal(out, value.unsigned_abs());
        self
    }

    #[inline(never)]
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A value that is already JSON.
    #[inline(never)]
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key).push_str(json);
        self
    }

    #[inline(never)]
    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}
