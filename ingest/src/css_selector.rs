//! Whether a CSS selector list is well formed, as a browser's `Element.closest()` takes it.
//!
//! The server checks each `[[sites.cta]]` selector when it reads the config: the tracker
//! matches clicks with `closest(selector)`, and a selector the browser refuses matches no click
//! at all, silently. Parsing is Servo's (`cssparser` and `selectors`). Pseudo-classes and
//! pseudo-elements are taken by name without a list of known ones, so a selector a browser
//! accepts is never refused here; an unknown name such as `:hovr` is the one mistake that
//! passes.

use std::borrow::Borrow;
use std::fmt;

use cssparser::{ParseError, Parser as CssParser, ToCss};
use precomputed_hash::PrecomputedHash;
use selectors::parser::{
    NonTSPseudoClass, ParseRelative, Parser, PseudoElement, SelectorImpl, SelectorList,
    SelectorParseErrorKind,
};

/// Why `selector` would be refused by a browser, or `None` when it parses.
pub fn selector_problem(selector: &str) -> Option<String> {
    use SelectorParseErrorKind as K;
    use cssparser::{BasicParseErrorKind as B, ParseErrorKind as E};
    let mut parser = CssParser::new(selector);
    let problem = SelectorList::<Syntax>::parse(&Permissive, &mut parser, ParseRelative::No).err()?;
    let what = match problem.kind {
        E::Basic(B::EndOfInput) => {
            "it ends too early (an unclosed bracket, parenthesis or quote, or a `.`, `#` or `:` with no name?)"
        }
        E::Custom(K::EmptySelector) => {
            "an empty selector (a comma with nothing after it, a leading `>`, `+` or `~`, or an empty `:not()`)"
        }
        E::Custom(K::DanglingCombinator) => "a `>`, `+`, `~` or space with no selector after it",
        E::Custom(K::ClassNeedsIdent) => "a `.` with no class name after it",
        E::Custom(
            K::NoQualifiedNameInAttributeSelector
            | K::UnexpectedTokenInAttributeSelector
            | K::BadValueInAttr
            | K::ExpectedBarInAttr
            | K::InvalidQualNameInAttr,
        ) => "a malformed attribute selector (write `[name]`, `[name=value]` or `[name=\"a value\"]`)",
        E::Custom(K::ExpectedNamespace | K::ExplicitNamespaceUnexpectedToken) => {
            "a namespace prefix (`svg|rect`), which web pages do not declare"
        }
        E::Custom(K::PseudoElementExpectedColon | K::PseudoElementExpectedIdent | K::NoIdentForPseudo) => {
            "a `:` or `::` with no name after it"
        }
        _ => "text with no place there (a stray `)`, `{` or `!`, or a bad `:nth-child()` argument?)",
    };
    Some(format!("is not a valid CSS selector, so it would match no click: {what}"))
}

/// The selector grammar's types, as plain strings: nothing here is ever matched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Syntax;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Text(String);

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl ToCss for Text {
    fn to_css<W: fmt::Write>(&self, dest: &mut W) -> fmt::Result {
        cssparser::serialize_identifier(&self.0, dest)
    }
}

impl PrecomputedHash for Text {
    fn precomputed_hash(&self) -> u32 {
        // Only matching uses it.
        0
    }
}

/// A pseudo-class or pseudo-element, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pseudo(String);

impl ToCss for Pseudo {
    fn to_css<W: fmt::Write>(&self, dest: &mut W) -> fmt::Result {
        dest.write_str(&self.0)
    }
}

impl NonTSPseudoClass for Pseudo {
    fn is_active_or_hover(&self) -> bool {
        false
    }
    fn is_user_action_state(&self) -> bool {
        false
    }
}

impl PseudoElement for Pseudo {}

impl SelectorImpl for Syntax {
    type ExtraMatchingData<'a> = ();
    type AttrValue = Text;
    type Identifier = Text;
    type LocalName = Text;
    type NamespaceUrl = Text;
    type NamespacePrefix = Text;
    type BorrowedNamespaceUrl = str;
    type BorrowedLocalName = str;
    type NonTSPseudoClass = Pseudo;
    type PseudoElement = Pseudo;
}

/// The grammar as today's browsers take it in `closest()`: `:is()`, `:where()`, `:has()`,
/// `:nth-child(An+B of S)`, `:host`, `::slotted()`, `::part()`, `&`; any pseudo-class or
/// pseudo-element name, with any arguments.
struct Permissive;

impl<'i> Parser<'i> for Permissive {
    type Impl = Syntax;
    type Error = SelectorParseErrorKind;

    fn parse_slotted(&self) -> bool {
        true
    }
    fn parse_part(&self) -> bool {
        true
    }
    fn parse_nth_child_of(&self) -> bool {
        true
    }
    fn parse_is_and_where(&self) -> bool {
        true
    }
    fn parse_has(&self) -> bool {
        true
    }
    fn parse_parent_selector(&self) -> bool {
        true
    }
    fn parse_host(&self) -> bool {
        true
    }

    fn parse_non_ts_pseudo_class(&self, name: &str) -> Result<Pseudo, ParseError<Self::Error>> {
        Ok(Pseudo(name.to_owned()))
    }

    fn parse_non_ts_functional_pseudo_class(
        &self,
        name: &str,
        arguments: &mut CssParser<'i>,
        _after_part: bool,
    ) -> Result<Pseudo, ParseError<Self::Error>> {
        skip_rest(arguments)?;
        Ok(Pseudo(name.to_owned()))
    }

    fn parse_pseudo_element(&self, name: &str) -> Result<Pseudo, ParseError<Self::Error>> {
        Ok(Pseudo(name.to_owned()))
    }

    fn parse_functional_pseudo_element(
        &self,
        name: &str,
        arguments: &mut CssParser<'i>,
    ) -> Result<Pseudo, ParseError<Self::Error>> {
        skip_rest(arguments)?;
        Ok(Pseudo(name.to_owned()))
    }
}

/// Consumes a pseudo's arguments (nested blocks included: the tokenizer balances them).
fn skip_rest<'i>(arguments: &mut CssParser<'i>) -> Result<(), ParseError<SelectorParseErrorKind>> {
    while arguments.next_including_whitespace_and_comments().is_ok() {}
    Ok(())
}

/// Selectors with what the check says of them: `None` where browsers take the selector, else a
/// part of the problem it names. The unit tests hold the check to them, and the browser tests
/// hold Chromium's `closest()` to them, so the check and the browser are seen to agree.
pub const EXAMPLES: &[(&str, Option<&str>)] = &[
    ("a[href$=\"pricing.html\"]", None),
    ("#signup, .cta > button", None),
    ("button:not(:disabled)", None),
    ("a:is(.primary, .secondary)", None),
    (":is()", None),
    ("nav a:where(.x, #y)", None),
    ("li:nth-child(2n+1)", None),
    ("li:nth-child(odd of .item)", None),
    ("div:has(> img)", None),
    ("[data-track=\"buy\" i]", None),
    ("a:hover, input:focus-visible", None),
    ("p::before", None),
    ("*", None),
    ("a ~ b + c", None),
    (":lang(en)", None),
    (".\\31 23", None),
    ("*|a", None),
    ("[data-lodestone-open]", None),
    ("a[href^='https://']:not([href*=\"example.com\"])", None),
    ("a[href=", Some("ends too early")),
    (".", Some("ends too early")),
    ("a:", Some("ends too early")),
    ("a >", Some("no selector after it")),
    ("a b {", Some("no selector after it")),
    ("a,", Some("a comma with nothing after it")),
    ("> a", Some("a leading `>`")),
    (":not(", Some("an empty `:not()`")),
    (":not()", Some("an empty `:not()`")),
    ("div..x", Some("a `.` with no class name")),
    ("[1]", Some("malformed attribute selector")),
    ("a[href=a b]", Some("text with no place there")),
    ("svg|rect", Some("namespace prefix")),
    ("a: b", Some("with no name after it")),
    ("a)", Some("a stray `)`")),
    ("a!", Some("text with no place there")),
    ("li:nth-child(x)", Some("`:nth-child()` argument")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_browsers_take_pass_and_malformed_ones_are_refused_with_what_is_wrong() {
        for (s, expected) in EXAMPLES {
            match (selector_problem(s), expected) {
                (None, None) => {}
                (Some(problem), Some(part)) => {
                    assert!(problem.starts_with("is not a valid CSS selector"), "{s}: {problem}");
                    assert!(problem.contains(part), "{s}: {problem}");
                }
                (problem, _) => panic!("{s}: {problem:?}, expected {expected:?}"),
            }
        }
        assert!(EXAMPLES.iter().filter(|(_, e)| e.is_some()).count() >= 15);
    }
}
