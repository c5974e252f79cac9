//! The thresholds of the behaviour test (`rules/behaviour.table`): `behaviour NAME value=N`
//! rows, the first row for a name winning (an operator's folder is read first). The test is off
//! unless every threshold is given.

/// One `behaviour` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub value: f64,
    /// file:line
    pub row: String,
}

/// The names every behaviour table must give.
pub const NAMES: &[&str] = &[
    "window_s",
    "min_submits",
    "min_pushes",
    "min_answered",
    "max_client_answers",
    "min_submit_bytes",
    "max_submit_bytes",
    "min_ack_bytes",
    "max_ack_bytes",
    "min_push_bytes",
    "max_push_bytes",
    "max_bulk",
    "max_rate",
    "min_submit_cv",
    "max_submit_cv",
    "min_push_every_s",
    "confidence_base",
    "confidence_step",
    "confidence_max",
];

/// One `behaviour NAME value=N` row, checked: a known name, a number of at least 0.
pub fn row(name: &str, value: Option<&str>, row: String) -> Result<Row, String> {
    if !NAMES.contains(&name) {
        return Err(format!(
            "unknown behaviour threshold '{name}' (known: {})",
            NAMES.join(", ")
        ));
    }
    let value = value
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or("'value' must be a number >= 0")?;
    Ok(Row {
        name: name.to_string(),
        value,
        row,
    })
}

/// The thresholds, as read; see `rules/behaviour.table` for what each means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    pub window_s: f64,
    pub min_submits: f64,
    pub min_pushes: f64,
    pub min_answered: f64,
    pub max_client_answers: f64,
    pub submit_bytes: (f64, f64),
    pub ack_bytes: (f64, f64),
    pub push_bytes: (f64, f64),
    pub max_bulk: f64,
    pub max_rate: f64,
    pub submit_cv: (f64, f64),
    pub min_push_every_s: f64,
    pub confidence: (f64, f64, f64),
}

impl Behaviour {
    /// The thresholds from `rows` (first row per name wins), or the names missing.
    pub fn from_rows(rows: &[Row]) -> Result<Behaviour, Vec<&'static str>> {
        let get = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.value);
        let missing: Vec<&'static str> =
            NAMES.iter().copied().filter(|n| get(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let v = |n: &str| get(n).unwrap_or_default();
        Ok(Behaviour {
            window_s: v("window_s"),
            min_submits: v("min_submits"),
            min_pushes: v("min_pushes"),
            min_answered: v("min_answered"),
            max_client_answers: v("max_client_answers"),
            submit_bytes: (v("min_submit_bytes"), v("max_submit_bytes")),
            ack_bytes: (v("min_ack_bytes"), v("max_ack_bytes")),
            push_bytes: (v("min_push_bytes"), v("max_push_bytes")),
            max_bulk: v("max_bulk"),
            max_rate: v("max_rate"),
            submit_cv: (v("min_submit_cv"), v("max_submit_cv")),
            min_push_every_s: v("min_push_every_s"),
            confidence: (
                v("confidence_base"),
                v("confidence_step"),
                v("confidence_max"),
            ),
        })
    }
}
