//! A minimal JSON text writer. The widget's modules write every body they send or store as
//! text: setting properties on JS objects one call at a time cost kilobytes of wasm.

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

/// A JSON array of values that are already JSON (the debug overlay's report).
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

/// The score report's fields: its total and its explanation.
pub fn score_fields(o: &mut Object, report: &funnel::ScoreReport) {
    o.num("total", report.total.into()).list("explanation");
    for i in &report.explanation {
        o.item().str("reason", &i.reason).num("points", i.points.into()).close();
    }
    o.close_list();
}

/// Writes one JSON object. Keys are trusted literals; values are escaped. The methods take
/// `&mut self`: chained by value, every call moved the string in and out through memory,
/// kilobytes of the module over all the objects it writes.
pub struct Object(String);

impl Default for Object {
    fn default() -> Self {
        Self::new()
    }
}

impl Object {
    pub fn new() -> Self {
        Self(String::from("{"))
    }

    /// A list of objects instead: each [`Object::item`] and its fields, closed, then
    /// [`Object::end_list`].
    pub fn new_list() -> Self {
        Self(String::from("["))
    }

    #[inline(never)]
    pub fn end_list(&mut self) -> String {
        self.close_list();
        core::mem::take(&mut self.0)
    }

    /// A comma, unless this opens an object or a list.
    #[inline(never)]
    fn comma(&mut self) -> &mut String {
        if !matches!(self.0.as_bytes().last(), Some(b'{' | b'[')) {
            self.0.push(',');
        }
        &mut self.0
    }

    #[inline(never)]
    fn key(&mut self, key: &str) -> &mut String {
        self.comma();
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
        &mut self.0
    }

    #[inline(never)]
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        quote_into(self.key(key), value);
        self
    }

    #[inline(never)]
    pub fn opt(&mut self, key: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value {
            self.str(key, v);
        }
        self
    }

    #[inline(never)]
    pub fn num(&mut self, key: &str, value: i64) -> &mut Self {
        let out = self.key(key);
        if value < 0 {
            out.push('-');
        }
        funnel::score::push_decimal(out, value.unsigned_abs());
        self
    }

    /// A time (ms) when there is one.
    #[inline(never)]
    pub fn time(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        if let Some(t) = value {
            self.num(key, t as i64);
        }
        self
    }

    #[inline(never)]
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A value that is already JSON.
    #[inline(never)]
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// A list of strings.
    #[inline(never)]
    pub fn strs(&mut self, key: &str, list: &[String]) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote_into(out, s);
        }
        out.push(']');
        self
    }

    /// Opens an object as the value of `key`: its fields follow, then [`Object::close`]. (Written
    /// in place: no string of its own to build, copy and free.)
    #[inline(never)]
    pub fn open(&mut self, key: &str) -> &mut Self {
        self.key(key).push('{');
        self
    }

    #[inline(never)]
    pub fn close(&mut self) -> &mut Self {
        self.0.push('}');
        self
    }

    /// Opens a list of objects as the value of `key`: each [`Object::item`] and its fields,
    /// closed, then [`Object::close_list`].
    #[inline(never)]
    pub fn list(&mut self, key: &str) -> &mut Self {
        self.key(key).push('[');
        self
    }

    /// A list's next value, already JSON.
    #[inline(never)]
    pub fn raw_item(&mut self, json: &str) -> &mut Self {
        self.comma().push_str(json);
        self
    }

    /// Opens the next object of a list.
    #[inline(never)]
    pub fn item(&mut self) -> &mut Self {
        self.comma().push('{');
        self
    }

    #[inline(never)]
    pub fn close_list(&mut self) -> &mut Self {
        self.0.push(']');
        self
    }

    #[inline(never)]
    pub fn end(&mut self) -> String {
        let mut out = core::mem::take(&mut self.0);
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_numbers_signed() {
        let text = Object::new()
            .str("s", "a \"quoted\" back\\slash\nline \u{1}")
            .num("n", -42)
            .num("z", 0)
            .bool("b", true)
            .opt("absent", &None)
            .time("t", Some(1.5e12))
            .end();
        assert_eq!(
            text,
            r#"{"s":"a \"quoted\" back\\slash\u000aline \u0001","n":-42,"z":0,"b":true,"t":1500000000000}"#
        );
    }

    #[test]
    fn nested_objects_and_lists_are_written_in_place_with_commas_only_between_values() {
        let mut o = Object::new();
        o.open("o").close().list("l");
        for i in 0..2 {
            o.item().num("i", i).close();
        }
        o.close_list()
            .strs("s", &["x".into(), "y".into()])
            .list("raw")
            .raw_item("1")
            .raw_item("{}")
            .close_list();
        assert_eq!(o.end(), r#"{"o":{},"l":[{"i":0},{"i":1}],"s":["x","y"],"raw":[1,{}]}"#);
        let mut list = Object::new_list();
        list.item().str("id", "a").close();
        assert_eq!(list.end_list(), r#"[{"id":"a"}]"#);
        assert_eq!(Object::new_list().end_list(), "[]");
        assert_eq!(array(["1".to_owned(), "[]".to_owned()]), "[1,[]]");
    }
}
