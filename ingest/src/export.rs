//! CSV export of leads, chunked for streaming, with every cell neutralised against spreadsheet
//! formula injection (a cell starting with `= + - @`, tab or CR gets a leading `'`).
//!
//! The file starts with a UTF-8 byte order mark, so Excel reads `Jürgen` as written rather than
//! in the system's legacy code page. Custom answers get a column each (`fields[company]`),
//! chosen by [`FieldColumns`] from a first pass over the leads; answers without a column (a
//! lead stored between the two passes, or names past the column cap) stay in the `fields`
//! cell as JSON, so nothing is left out.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use funnel::Touch;

use crate::records::StoredLead;

/// Rows buffered before a chunk is handed to the response.
const CHUNK_ROWS: usize = 64;

/// Most custom answers given a column of their own: the most used names win.
pub const FIELD_COLUMNS: usize = 100;

/// Most distinct custom field names counted while choosing columns: bounds the memory a flood
/// of junk names can take (names first seen after the cap are not counted).
const NAMES_COUNTED: usize = 10_000;

/// The UTF-8 byte order mark.
const BOM: &str = "\u{feff}";

const HEADER: [&str; 23] = [
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
];

/// The last column: answers without a column of their own, as JSON.
const OTHER_FIELDS: &str = "fields";

/// Chooses which custom answers get a column: counts the names used across leads.
#[derive(Debug, Default)]
pub struct FieldColumns {
    uses: HashMap<String, u64>,
}

impl FieldColumns {
    /// Counts the names of one lead's custom answers.
    pub fn add(&mut self, names: Vec<String>) {
        for name in names {
            if let Some(n) = self.uses.get_mut(&name) {
                *n += 1;
            } else if self.uses.len() < NAMES_COUNTED {
                self.uses.insert(name, 1);
            }
        }
    }

    /// The [`FIELD_COLUMNS`] most used names (ties to the alphabetically first), in
    /// alphabetical order.
    pub fn chosen(self) -> Vec<String> {
        let mut by_use: Vec<(String, u64)> = self.uses.into_iter().collect();
        by_use.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut names: Vec<String> = by_use.into_iter().take(FIELD_COLUMNS).map(|(name, _)| name).collect();
        names.sort_unstable();
        names
    }
}

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
    /// Custom field names with a column of their own, in column order.
    columns: Vec<String>,
}

impl CsvRows {
    /// Starts the file: the byte order mark and the header, with a column for each of
    /// `columns` (custom field names, see [`FieldColumns`]).
    pub fn new(columns: Vec<String>) -> Self {
        let mut writer = csv::Writer::from_writer(BOM.as_bytes().to_vec());
        let named = columns.iter().map(|name| format!("fields[{name}]"));
        let header = HEADER.iter().map(|h| (*h).to_owned()).chain(named).chain([OTHER_FIELDS.to_owned()]);
        writer.write_record(header.map(|h| neutralise(&h).into_owned())).expect("writing to memory");
        Self { writer, buffered: 1, columns }
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
        let mut others: BTreeMap<&str, &str> =
            lead.fields.iter().map(|(name, answer)| (name.as_str(), answer.as_str())).collect();
        let answers: Vec<String> = self
            .columns
            .iter()
            .map(|name| others.remove(name.as_str()).unwrap_or_default().to_owned())
            .collect();
        let others = if others.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&others).unwrap_or_default()
        };
        let cells: [String; 23] = [
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
        ];
        let row = cells.iter().chain(&answers).chain([&others]);
        self.writer.write_record(row.map(|c| neutralise(c).into_owned())).expect("writing to memory");
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

    fn lead(email: &str, fields: &[(&str, &str)]) -> StoredLead {
        StoredLead {
            id: format!("id-{email}"),
            site: "demo".into(),
            campaign: "welcome".into(),
            variant: None,
            email: email.into(),
            name: Some("Jürgen".into()),
            fields: fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            submission_id: format!("sub-{email}"),
            page_url: None,
            referrer: None,
            attribution: funnel::Attribution::default(),
            signals: None,
            client_score: None,
            score: funnel::ScoreReport::default(),
            score_mismatch: false,
            received_at: "2026-01-01T00:00:00Z".into(),
            consent: None,
        }
    }

    fn export(leads: &[StoredLead]) -> Vec<u8> {
        let mut columns = FieldColumns::default();
        leads.iter().for_each(|l| columns.add(l.fields.keys().cloned().collect()));
        let mut rows = CsvRows::new(columns.chosen());
        let mut out: Vec<u8> = leads.iter().filter_map(|l| rows.push(l)).flatten().collect();
        out.extend(rows.finish());
        out
    }

    #[test]
    fn custom_answers_get_a_column_each_and_the_rest_stay_in_the_fields_cell() {
        let leads = [
            lead("a@example.com", &[("company", "Acme"), ("role", "=CTO")]),
            lead("b@example.com", &[("company", "Initech")]),
            lead("c@example.com", &[]),
        ];
        let out = export(&leads);
        assert!(out.starts_with("\u{feff}".as_bytes()), "byte order mark first");
        let mut reader = csv::Reader::from_reader(&out[3..]);
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header.len(), HEADER.len() + 3);
        assert_eq!(header[HEADER.len()..], ["fields[company]", "fields[role]", "fields"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let cells =
            |row: &csv::StringRecord| row.iter().skip(HEADER.len()).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(cells(&rows[0]), ["Acme", "'=CTO", ""]);
        assert_eq!(cells(&rows[1]), ["Initech", "", ""]);
        assert_eq!(cells(&rows[2]), ["", "", ""]);
        assert_eq!(&rows[0][5], "Jürgen");

        // A lead with a name that got no column (stored after the columns were chosen).
        let mut rows = CsvRows::new(vec!["company".into()]);
        rows.push(&lead("d@example.com", &[("company", "Hooli"), ("size", "-50")]));
        let out = rows.finish();
        let mut reader = csv::Reader::from_reader(&out[3..]);
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(row.iter().skip(HEADER.len()).collect::<Vec<_>>(), ["Hooli", r#"{"size":"-50"}"#]);
    }

    #[test]
    fn the_most_used_names_get_the_columns() {
        let mut columns = FieldColumns::default();
        for i in 0..FIELD_COLUMNS + 50 {
            // Names 0-49 are used by two leads, the rest by one.
            let name = format!("f{i:03}");
            columns.add(vec![name.clone()]);
            if i < 50 {
                columns.add(vec![name.clone()]);
            }
        }
        columns.add(vec!["zz".to_owned()]);
        columns.add(vec!["zz".to_owned()]);
        let chosen = columns.chosen();
        assert_eq!(chosen.len(), FIELD_COLUMNS);
        assert!(chosen.contains(&"zz".to_owned()));
        assert!((0..50).all(|i| chosen.contains(&format!("f{i:03}"))));
        assert!(chosen.is_sorted());
        // Ties go to the alphabetically first: f050-f098 of the names used once.
        assert!(chosen.contains(&"f098".to_owned()) && !chosen.contains(&"f099".to_owned()));
    }

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
