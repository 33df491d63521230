//! CSV export of leads, chunked for streaming, with every cell neutralised against spreadsheet
//! formula injection (a cell starting with `= + - @`, tab or CR gets a leading `'`).

use std::borrow::Cow;

use funnel::Touch;

use crate::records::StoredLead;

/// Rows buffered before a chunk is handed to the response.
const CHUNK_ROWS: usize = 64;

const HEADER: [&str; 24] = [
    "id",
    "received_at",
    "campaign",
    "variant",
    "email",
    "name",
    "score",
    "client_score",
    "score_mismatch",
    "consent_granted",
    "consent_version",
    "consent_text",
    "consent_at",
    "page_url",
    "referrer",
    "first_referrer",
    "first_utm_source",
    "first_utm_medium",
    "first_utm_campaign",
    "last_referrer",
    "last_utm_source",
    "last_utm_medium",
    "last_utm_campaign",
    "fields",
];

/// Makes a cell safe to open in a spreadsheet: formula-starting cells get a leading `'`. A cell
/// starting with a tab, CR or LF is one, and so is a formula behind leading spaces or other
/// invisible characters (some spreadsheets trim those before reading the cell).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let starts_formula = matches!(cell.chars().next(), Some('\t' | '\r' | '\n'))
        || matches!(
            cell.chars()
                .find(|c| !(c.is_whitespace() || c.is_control() || funnel::validate::is_invisible(*c))),
            Some('=' | '+' | '-' | '@')
        );
    if starts_formula { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

/// Writes leads as CSV rows and hands out chunks of bytes.
pub struct CsvRows {
    writer: csv::Writer<Vec<u8>>,
    buffered: usize,
}

impl Default for CsvRows {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvRows {
    pub fn new() -> Self {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADER).expect("writing to memory");
        Self { writer, buffered: 1 }
    }

    /// Adds one lead; returns a chunk once enough rows are buffered.
    pub fn push(&mut self, lead: &StoredLead) -> Option<Vec<u8>> {
        let consent = lead.consent.as_ref();
        let touch = |t: &Option<Touch>| {
            let t = t.clone().unwrap_or_default();
            [t.referrer, t.utm_source, t.utm_medium, t.utm_campaign].map(Option::unwrap_or_default)
        };
        let [fr, fs, fm, fc] = touch(&lead.attribution.first);
        let [lr, ls, lm, lc] = touch(&lead.attribution.last);
        let fields = if lead.fields.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&lead.fields).unwrap_or_default()
        };
        let cells: [String; 24] = [
            lead.id.clone(),
            lead.received_at.clone(),
            lead.campaign.clone(),
            lead.variant.clone().unwrap_or_default(),
            lead.email.clone(),
            lead.name.clone().unwrap_or_default(),
            lead.score.total.to_string(),
            lead.client_score.as_ref().map(|s| s.total.to_string()).unwrap_or_default(),
            lead.score_mismatch.to_string(),
            consent.map(|c| c.granted.to_string()).unwrap_or_default(),
            consent.map(|c| c.version.clone()).unwrap_or_default(),
            consent.map(|c| c.text.clone()).unwrap_or_default(),
            consent.map(|c| c.at.clone()).unwrap_or_default(),
            lead.page_url.clone().unwrap_or_default(),
            lead.referrer.clone().unwrap_or_default(),
            fr,
            fs,
            fm,
            fc,
            lr,
            ls,
            lm,
            lc,
            fields,
        ];
        self.writer
            .write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            .expect("writing to memory");
        self.buffered += 1;
        (self.buffered >= CHUNK_ROWS).then(|| self.take())
    }

    fn take(&mut self) -> Vec<u8> {
        self.buffered = 0;
        let full = std::mem::replace(&mut self.writer, csv::Writer::from_writer(Vec::new()));
        full.into_inner().expect("writing to memory")
    }

    /// The last, possibly partial, chunk.
    pub fn finish(mut self) -> Vec<u8> {
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_untouched() {
        for bad in [
            "=1+1",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "\nx",
            " =HYPERLINK(\"http://evil.example\",\"x\")",
            "\n=1+2",
            "\u{a0}=2+3",
            " @SUM(1)",
            "\u{200b}=1",
            "\u{3000}+1",
        ] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for ok in ["", "Ada", "a=b", "1-2", " Ada", "  "] {
            assert_eq!(neutralise(ok), ok);
        }
    }
}
