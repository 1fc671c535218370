//! Quick add: one line of natural language ("Pay rent tomorrow 9am !high #home
//! every month") read into the fields of a new task. Used by the REST endpoint
//! `POST /tasks/quick`, the web UI's live preview and the agent.
//!
//! The parser is deliberately forgiving: whatever it does not recognise stays in
//! the title, and every recognised piece is reported back as a [`QuickToken`] so a
//! client can show what was understood. A word written with a leading `\`
//! (`\friday`) is kept literally in the title.
use crate::{Priority, RepeatFrom, Tag, ValidationErrors};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// What kind of information a recognised piece of text carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TokenKind {
    Due,
    Time,
    Priority,
    Tag,
    Recurrence,
    Reminder,
    Project,
}

/// One recognised piece of the input, with its position (in characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuickToken {
    pub kind: TokenKind,
    /// The words as typed.
    pub text: String,
    /// What they were read as (`2026-11-24`, `high`, `FREQ=MONTHLY`, ...).
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// The task a line of quick-add text describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuickTask {
    /// The words left over once every recognised token is taken out.
    pub title: String,
    /// In the REST `due` form: `2026-11-24` or `2026-11-24T09:00:00+01:00[Europe/Berlin]`.
    pub due: Option<String>,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    /// An RFC 5545 RRULE.
    pub recurrence: Option<String>,
    /// `completion` for `every! ...` (Todoist's "repeat from completion").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_from: Option<RepeatFrom>,
    /// ISO 8601 durations before due.
    pub reminders: Vec<String>,
    /// The project named with `##Name` (Todoist writes `#Name`, but here
    /// `#word` is a tag and stays one). Resolved to one of the person's
    /// projects by the application (`ontask_app::quick`), since parsing does
    /// no I/O.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub tokens: Vec<QuickToken>,
}

/// Parses a time zone name for quick add, answering a field error for `field`.
pub fn parse_timezone(raw: Option<&str>) -> Result<Tz, ValidationErrors> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            ValidationErrors::single(
                "timezone",
                format!("unknown time zone {name:?} (use an IANA name such as Europe/Berlin)"),
            )
        }),
    }
}

#[derive(Debug, Clone)]
struct Word {
    /// Lower case, without surrounding punctuation.
    norm: String,
    raw: String,
    start: usize,
    end: usize,
    used: bool,
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let raw: String = chars[s..i].iter().collect();
                let norm = raw.trim_matches(|c: char| matches!(c, ',' | '.' | ';' | '?' | '(' | ')')).to_lowercase();
                out.push(Word { norm, raw, start: s, end: i, used: false });
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" | "monday" | "mondays" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "wed" | "wednesday" | "wednesdays" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fri" | "friday" | "fridays" => Weekday::Fri,
        "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

fn byday(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn month(s: &str) -> Option<u32> {
    let m = match s {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    };
    Some(m)
}

/// `1`, `1st`, `22nd`, `3rd`, `4th` as a day of the month.
fn day_of_month(s: &str) -> Option<u32> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn number(s: &str) -> Option<u32> {
    match s {
        "a" | "an" | "one" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "four" => Some(4),
        "five" => Some(5),
        "six" => Some(6),
        "ten" => Some(10),
        _ => s.parse().ok().filter(|n| *n > 0 && *n < 1000),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

fn unit(s: &str) -> Option<Unit> {
    Some(match s {
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
        "month" | "months" => Unit::Month,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        _ => return None,
    })
}

/// `9am`, `9:30pm`, `14:00`, `noon`, `midnight` (and `9 am` over two words).
fn time_of_day(w: &str, next: Option<&str>) -> Option<(NaiveTime, usize)> {
    match w {
        "noon" | "midday" => return Some((NaiveTime::from_hms_opt(12, 0, 0)?, 1)),
        "midnight" => return Some((NaiveTime::from_hms_opt(0, 0, 0)?, 1)),
        _ => {}
    }
    let (body, meridiem, used) = if let Some(b) = w.strip_suffix("am").or_else(|| w.strip_suffix("a.m.")) {
        (b, Some(false), 1)
    } else if let Some(b) = w.strip_suffix("pm").or_else(|| w.strip_suffix("p.m.")) {
        (b, Some(true), 1)
    } else if matches!(next, Some("am" | "a.m.")) {
        (w, Some(false), 2)
    } else if matches!(next, Some("pm" | "p.m.")) {
        (w, Some(true), 2)
    } else {
        (w, None, 1)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        Some(_) => return None,
        // A bare number is a time only with am/pm ("9am"), never alone ("buy 3 apples").
        None if meridiem.is_some() => (body.parse::<u32>().ok()?, 0),
        None => return None,
    };
    if body.is_empty() || m > 59 {
        return None;
    }
    let h = match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12) + if pm { 12 } else { 0 }
        }
        None if h <= 23 => h,
        None => return None,
    };
    Some((NaiveTime::from_hms_opt(h, m, 0)?, used))
}

/// What the date words said.
#[derive(Debug, Clone, Copy)]
enum When {
    Day(NaiveDate),
    /// A precise instant ("in 2 hours").
    Instant(DateTime<Tz>),
}

struct Parser {
    words: Vec<Word>,
    now: DateTime<Tz>,
    tokens: Vec<QuickToken>,
    text: String,
    project: Option<String>,
}

impl Parser {
    fn norm(&self, i: usize) -> Option<&str> {
        self.words.get(i).filter(|w| !w.used).map(|w| w.norm.as_str())
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    /// Marks words `from..to` used, with one optional leading connector word
    /// (`on`, `at`, `by`, `due`) when it is free.
    fn take(&mut self, from: usize, to: usize, kind: TokenKind, value: String, connectors: &[&str]) {
        let mut from = from;
        if from > 0 && self.norm(from - 1).is_some_and(|w| connectors.contains(&w)) {
            from -= 1;
        }
        for w in &mut self.words[from..to] {
            w.used = true;
        }
        let (start, end) = (self.words[from].start, self.words[to - 1].end);
        let text: String = self.text.chars().skip(start).take(end - start).collect();
        self.tokens.push(QuickToken { kind, text, value, start, end });
    }

    fn upcoming(&self, day: Weekday) -> NaiveDate {
        let today = self.today();
        let ahead =
            (i64::from(day.num_days_from_monday()) - i64::from(today.weekday().num_days_from_monday())).rem_euclid(7);
        today + Duration::days(if ahead == 0 { 7 } else { ahead })
    }

    /// Recurrence: `every ...`, `daily`, `weekly`, `monthly`, `yearly`; with
    /// what it counts from: `every! ...` repeats from completion.
    fn recurrence(&mut self) -> Option<(String, Option<Weekday>, RepeatFrom)> {
        let (rule, first_day) = self.recurrence_rule()?;
        let token = self.tokens.last().map(|t| t.text.to_lowercase()).unwrap_or_default();
        let from_completion = token.starts_with("every!") || token.starts_with("each!");
        Some((rule, first_day, if from_completion { RepeatFrom::Completion } else { RepeatFrom::Due }))
    }

    fn recurrence_rule(&mut self) -> Option<(String, Option<Weekday>)> {
        for i in 0..self.words.len() {
            let Some(w) = self.norm(i).map(str::to_owned) else { continue };
            let simple = match w.as_str() {
                "daily" => Some("FREQ=DAILY"),
                "weekly" => Some("FREQ=WEEKLY"),
                "monthly" => Some("FREQ=MONTHLY"),
                "yearly" | "annually" => Some("FREQ=YEARLY"),
                "hourly" => Some("FREQ=HOURLY"),
                "weekdays" => Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
                _ => None,
            };
            if let Some(rule) = simple {
                self.take(i, i + 1, TokenKind::Recurrence, rule.into(), &[]);
                return Some((rule.into(), None));
            }
            if !matches!(w.as_str(), "every" | "each" | "every!" | "each!") {
                continue;
            }
            let mut j = i + 1;
            let mut interval = 1;
            match self.norm(j) {
                Some("other") => {
                    interval = 2;
                    j += 1;
                }
                Some(n) if unit(self.norm(j + 1).unwrap_or("")).is_some() => {
                    if let Some(n) = number(n) {
                        interval = n;
                        j += 1;
                    }
                }
                _ => {}
            }
            let Some(next) = self.norm(j).map(str::to_owned) else { continue };
            let freq = match unit(&next) {
                Some(Unit::Hour) => Some("HOURLY"),
                Some(Unit::Day) => Some("DAILY"),
                Some(Unit::Week) => Some("WEEKLY"),
                Some(Unit::Month) => Some("MONTHLY"),
                Some(Unit::Year) => Some("YEARLY"),
                Some(Unit::Minute) | None => None,
            };
            if let Some(freq) = freq {
                let rule =
                    if interval > 1 { format!("FREQ={freq};INTERVAL={interval}") } else { format!("FREQ={freq}") };
                self.take(i, j + 1, TokenKind::Recurrence, rule.clone(), &[]);
                return Some((rule, None));
            }
            if next == "weekday" || next == "weekdays" {
                let rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".to_owned();
                self.take(i, j + 1, TokenKind::Recurrence, rule.clone(), &[]);
                return Some((rule, None));
            }
            if next == "weekend" || next == "weekends" {
                let rule = "FREQ=WEEKLY;BYDAY=SA,SU".to_owned();
                self.take(i, j + 1, TokenKind::Recurrence, rule.clone(), &[]);
                return Some((rule, None));
            }
            // every monday [and|,] wednesday ...
            let mut days = Vec::new();
            let mut end = j;
            let mut k = j;
            while let Some(word) = self.norm(k) {
                if let Some(d) = weekday(word) {
                    if !days.contains(&d) {
                        days.push(d);
                    }
                    end = k + 1;
                    k += 1;
                } else if word == "and" || word == "&" {
                    k += 1;
                } else {
                    break;
                }
            }
            if !days.is_empty() {
                let list: Vec<&str> = days.iter().map(|d| byday(*d)).collect();
                let mut rule = format!("FREQ=WEEKLY;BYDAY={}", list.join(","));
                if interval > 1 {
                    rule.push_str(&format!(";INTERVAL={interval}"));
                }
                self.take(i, end, TokenKind::Recurrence, rule.clone(), &[]);
                let first = days.iter().copied().min_by_key(|d| self.upcoming(*d));
                return Some((rule, first));
            }
        }
        None
    }

    fn priority(&mut self) -> Option<Priority> {
        for i in 0..self.words.len() {
            let Some(w) = self.norm(i) else { continue };
            let p = match w.strip_prefix('!') {
                Some("1" | "urgent" | "u") | Some("!!!") => Priority::Urgent,
                Some("2" | "high" | "h" | "hi") | Some("!!") => Priority::High,
                Some("3" | "medium" | "med" | "m") => Priority::Medium,
                Some("4" | "low" | "l" | "lo") => Priority::Low,
                _ => continue,
            };
            self.take(i, i + 1, TokenKind::Priority, p.as_str().into(), &[]);
            return Some(p);
        }
        None
    }

    /// The first `##Name` word: the project (a later one stays in the title).
    fn project(&mut self) {
        for i in 0..self.words.len() {
            if self.words[i].used {
                continue;
            }
            let Some(name) = self.words[i].raw.strip_prefix("##") else { continue };
            let name = name.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '-' && c != '_');
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            let name = name.to_owned();
            self.take(i, i + 1, TokenKind::Project, name.clone(), &[]);
            self.project = Some(name);
            return;
        }
    }

    fn tags(&mut self) -> Vec<String> {
        let mut tags = Vec::new();
        for i in 0..self.words.len() {
            let Some(w) = self.norm(i) else { continue };
            let Some(name) = w.strip_prefix('#') else { continue };
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            if let Ok(tag) = Tag::parse(name) {
                let tag = tag.as_str().to_owned();
                self.take(i, i + 1, TokenKind::Tag, tag.clone(), &[]);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        tags
    }

    /// `remind [me] 15m [before]`, `remind me 1 day before`.
    fn reminders(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..self.words.len() {
            if self.norm(i) != Some("remind") {
                continue;
            }
            let mut j = i + 1;
            if self.norm(j) == Some("me") {
                j += 1;
            }
            let Some(first) = self.norm(j).map(str::to_owned) else { continue };
            // `15m` in one word, or `15 minutes` in two.
            let split = first.find(|c: char| !c.is_ascii_digit()).unwrap_or(first.len());
            let (amount, unit_word, next) = if split > 0 && split < first.len() {
                (number(&first[..split]), first[split..].to_owned(), j + 1)
            } else {
                (number(&first), self.norm(j + 1).unwrap_or("").to_owned(), j + 2)
            };
            let (Some(n), Some(u)) = (amount, unit(&unit_word)) else { continue };
            let iso = match u {
                Unit::Minute => format!("PT{n}M"),
                Unit::Hour => format!("PT{n}H"),
                Unit::Day => format!("P{n}D"),
                Unit::Week => format!("P{}D", n * 7),
                Unit::Month | Unit::Year => continue,
            };
            let end = if self.norm(next) == Some("before") { next + 1 } else { next };
            self.take(i, end, TokenKind::Reminder, iso.clone(), &[]);
            out.push(iso);
        }
        out
    }

    fn time(&mut self) -> Option<NaiveTime> {
        for i in 0..self.words.len() {
            let Some(w) = self.norm(i).map(str::to_owned) else { continue };
            let next = self.norm(i + 1).map(str::to_owned);
            let found = time_of_day(&w, next.as_deref()).or_else(|| {
                // `at 9`, `at 17`: a bare hour after "at".
                let after_at = i > 0 && self.norm(i - 1) == Some("at");
                let h: u32 = w.parse().ok()?;
                (after_at && h <= 23).then(|| NaiveTime::from_hms_opt(h, 0, 0)).flatten().map(|t| (t, 1))
            });
            if let Some((t, used)) = found {
                self.take(i, i + used, TokenKind::Time, t.format("%H:%M").to_string(), &["at", "@", "by"]);
                return Some(t);
            }
            if w == "tonight" {
                let t = NaiveTime::from_hms_opt(20, 0, 0)?;
                self.take(i, i + 1, TokenKind::Due, self.today().to_string(), &[]);
                return Some(t);
            }
        }
        None
    }

    fn date(&mut self) -> Option<When> {
        const CONNECT: &[&str] = &["on", "by", "due", "this", "next"];
        let today = self.today();
        for i in 0..self.words.len() {
            let Some(w) = self.norm(i).map(str::to_owned) else { continue };
            let n1 = self.norm(i + 1).map(str::to_owned);
            let n2 = self.norm(i + 2).map(str::to_owned);
            let day = |d: NaiveDate| d.to_string();
            let simple = match w.as_str() {
                "today" | "tod" | "tonight" => Some((today, 1)),
                "tomorrow" | "tmr" | "tmrw" | "tom" => Some((today + Duration::days(1), 1)),
                "yesterday" => Some((today - Duration::days(1), 1)),
                _ => None,
            };
            if let Some((d, n)) = simple {
                self.take(i, i + n, TokenKind::Due, day(d), CONNECT);
                return Some(When::Day(d));
            }
            if w == "next" {
                let d = match n1.as_deref() {
                    Some("week") => Some(self.upcoming(Weekday::Mon)),
                    Some("month") => today.with_day(1).and_then(|d| d.checked_add_months(Months::new(1))),
                    Some("year") => NaiveDate::from_ymd_opt(today.year() + 1, 1, 1),
                    _ => None,
                };
                if let Some(d) = d {
                    self.take(i, i + 2, TokenKind::Due, day(d), &["by", "due"]);
                    return Some(When::Day(d));
                }
            }
            if let Some(wd) = weekday(&w) {
                // "next friday" is the friday after the coming one only when the
                // coming one is within this week; keep it simple: the upcoming one.
                let d = self.upcoming(wd);
                self.take(i, i + 1, TokenKind::Due, day(d), CONNECT);
                return Some(When::Day(d));
            }
            if w == "in" {
                let (amount, unit_word, used) = match (n1.as_deref(), n2.as_deref()) {
                    (Some(n), Some(u)) if number(n).is_some() && unit(u).is_some() => (number(n), u.to_owned(), 3),
                    _ => (None, String::new(), 0),
                };
                if let (Some(n), Some(u)) = (amount, unit(&unit_word)) {
                    let when = match u {
                        Unit::Minute => When::Instant(self.now + Duration::minutes(i64::from(n))),
                        Unit::Hour => When::Instant(self.now + Duration::hours(i64::from(n))),
                        Unit::Day => When::Day(today + Duration::days(i64::from(n))),
                        Unit::Week => When::Day(today + Duration::weeks(i64::from(n))),
                        Unit::Month => When::Day(today.checked_add_months(Months::new(n))?),
                        Unit::Year => When::Day(today.checked_add_months(Months::new(n * 12))?),
                    };
                    let value = match when {
                        When::Day(d) => day(d),
                        When::Instant(t) => t.format("%Y-%m-%dT%H:%M").to_string(),
                    };
                    self.take(i, i + used, TokenKind::Due, value, &["due"]);
                    return Some(when);
                }
            }
            if let Ok(d) = NaiveDate::parse_from_str(&w, "%Y-%m-%d") {
                self.take(i, i + 1, TokenKind::Due, day(d), CONNECT);
                return Some(When::Day(d));
            }
            // "dec 1", "december 1st [2027]", "1 dec", "1st of december".
            let month_day = match (month(&w), n1.as_deref().and_then(day_of_month)) {
                (Some(m), Some(d)) => Some((m, d, 2)),
                _ => match (day_of_month(&w), n1.as_deref()) {
                    (Some(d), Some("of")) => n2.as_deref().and_then(month).map(|m| (m, d, 3)),
                    (Some(d), Some(m)) => month(m).map(|m| (m, d, 2)),
                    _ => None,
                },
            };
            if let Some((m, d, used)) = month_day {
                let explicit_year =
                    self.norm(i + used).and_then(|y| y.parse::<i32>().ok()).filter(|y| (1970..=9999).contains(y));
                let (year, used) = match explicit_year {
                    Some(y) => (y, used + 1),
                    None => (today.year(), used),
                };
                let Some(mut date) = NaiveDate::from_ymd_opt(year, m, d) else { continue };
                if explicit_year.is_none() && date < today {
                    date = NaiveDate::from_ymd_opt(year + 1, m, d).unwrap_or(date);
                }
                self.take(i, i + used, TokenKind::Due, day(date), CONNECT);
                return Some(When::Day(date));
            }
        }
        None
    }
}

/// Reads `text` as a task, with dates relative to `now` in the zone `now` carries.
pub fn parse(text: &str, now: DateTime<Tz>) -> QuickTask {
    let text = text.trim();
    let mut p = Parser { words: words(text), now, tokens: Vec::new(), text: text.to_owned(), project: None };
    // Literal words (`\friday`) are never read as tokens.
    for w in &mut p.words {
        if w.raw.starts_with('\\') && w.raw.len() > 1 {
            w.used = true;
            w.raw.remove(0);
        }
    }
    let literal: Vec<bool> = p.words.iter().map(|w| w.used).collect();
    p.project();
    let tags = p.tags();
    let priority = p.priority();
    let reminders = p.reminders();
    let recurrence = p.recurrence();
    let time = p.time();
    let date = p.date();

    let tz = now.timezone();
    let due = match (date, time) {
        (Some(When::Instant(t)), _) => Some(t.with_second(0).unwrap_or(t)),
        (Some(When::Day(d)), Some(t)) => tz.from_local_datetime(&d.and_time(t)).earliest(),
        (Some(When::Day(d)), None) => {
            return finish(p, literal, tags, priority, reminders, recurrence, Some(d.to_string()));
        }
        (None, Some(t)) => {
            // A time alone is today, or tomorrow once it has passed.
            let first_day = match &recurrence {
                Some((_, Some(wd), _)) => p.upcoming(*wd),
                _ => p.today(),
            };
            let today = tz.from_local_datetime(&first_day.and_time(t)).earliest();
            match today {
                Some(at) if at > now => Some(at),
                _ => tz.from_local_datetime(&(first_day + Duration::days(1)).and_time(t)).earliest(),
            }
        }
        (None, None) => match &recurrence {
            // "every monday" starts on the coming monday.
            Some((_, Some(wd), _)) => {
                let d = p.upcoming(*wd);
                return finish(p, literal, tags, priority, reminders, recurrence, Some(d.to_string()));
            }
            _ => None,
        },
    };
    let due = due.map(|at| {
        if tz == Tz::UTC {
            at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            format!("{}[{}]", at.format("%Y-%m-%dT%H:%M:%S%:z"), tz.name())
        }
    });
    finish(p, literal, tags, priority, reminders, recurrence, due)
}

fn finish(
    p: Parser,
    literal: Vec<bool>,
    tags: Vec<String>,
    priority: Option<Priority>,
    reminders: Vec<String>,
    recurrence: Option<(String, Option<Weekday>, RepeatFrom)>,
    due: Option<String>,
) -> QuickTask {
    let title: Vec<&str> =
        p.words.iter().zip(&literal).filter(|(w, lit)| !w.used || **lit).map(|(w, _)| w.raw.as_str()).collect();
    let mut tokens = p.tokens;
    tokens.sort_by_key(|t| t.start);
    QuickTask {
        title: title.join(" "),
        due,
        priority: priority.map(|p| p.as_str().to_owned()),
        tags,
        repeat_from: recurrence.as_ref().map(|(_, _, from)| *from).filter(|from| !from.is_due()),
        recurrence: recurrence.map(|(r, _, _)| r),
        reminders,
        project: p.project,
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tuesday 2026-11-24, 08:00 in Berlin.
    fn now() -> DateTime<Tz> {
        chrono_tz::Europe::Berlin.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()
    }

    fn q(s: &str) -> QuickTask {
        parse(s, now())
    }

    #[test]
    fn a_doubled_hash_names_the_project_and_a_single_one_stays_a_tag() {
        let t = q("Plan trip ##Home-office #family tomorrow");
        assert_eq!((t.title.as_str(), t.project.as_deref()), ("Plan trip", Some("Home-office")));
        assert_eq!(t.tags, ["family"]);
        assert!(t.tokens.iter().any(|k| k.kind == TokenKind::Project && k.value == "Home-office"));
        let two = q("a ##x ##y");
        assert_eq!((two.title.as_str(), two.project.as_deref()), ("a ##y", Some("x")));
        assert_eq!(q("just ## hashes").project, None);
        assert_eq!(q("Pay rent #home").project, None);
    }

    #[test]
    fn the_example_sets_every_field() {
        let t = q("Pay rent tomorrow 9am !high #home every month");
        assert_eq!(t.title, "Pay rent");
        assert_eq!(t.due.as_deref(), Some("2026-11-25T09:00:00+01:00[Europe/Berlin]"));
        assert_eq!(t.priority.as_deref(), Some("high"));
        assert_eq!(t.tags, ["home"]);
        assert_eq!(t.recurrence.as_deref(), Some("FREQ=MONTHLY"));
        let kinds: Vec<_> = t.tokens.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [TokenKind::Due, TokenKind::Time, TokenKind::Priority, TokenKind::Tag, TokenKind::Recurrence]
        );
        assert_eq!(t.tokens[0].text, "tomorrow");
    }

    #[test]
    fn plain_text_is_all_title() {
        let t = q("Buy 3 apples and 2 pears");
        assert_eq!(t.title, "Buy 3 apples and 2 pears");
        assert!(t.due.is_none() && t.priority.is_none() && t.tags.is_empty() && t.recurrence.is_none());
        assert!(t.tokens.is_empty());
    }

    #[test]
    fn dates() {
        assert_eq!(q("a today").due.as_deref(), Some("2026-11-24"));
        assert_eq!(q("a tmr").due.as_deref(), Some("2026-11-25"));
        assert_eq!(q("call mom on friday").due.as_deref(), Some("2026-11-27"));
        assert_eq!(q("call mom on friday").title, "call mom");
        // Today is a Tuesday: "tuesday" is next week's.
        assert_eq!(q("a tuesday").due.as_deref(), Some("2026-12-01"));
        assert_eq!(q("a next week").due.as_deref(), Some("2026-11-30"));
        assert_eq!(q("a next month").due.as_deref(), Some("2026-12-01"));
        assert_eq!(q("a in 3 days").due.as_deref(), Some("2026-11-27"));
        assert_eq!(q("a in 2 weeks").due.as_deref(), Some("2026-12-08"));
        assert_eq!(q("a due 2027-01-05").due.as_deref(), Some("2027-01-05"));
        assert_eq!(q("a dec 3").due.as_deref(), Some("2026-12-03"));
        assert_eq!(q("a 3rd of march").due.as_deref(), Some("2027-03-03"), "a past date means next year");
        assert_eq!(q("a 1 jan 2028").due.as_deref(), Some("2028-01-01"));
        assert_eq!(q("a in 2 hours").due.as_deref(), Some("2026-11-24T10:00:00+01:00[Europe/Berlin]"));
    }

    #[test]
    fn times() {
        assert_eq!(q("a 5pm").due.as_deref(), Some("2026-11-24T17:00:00+01:00[Europe/Berlin]"));
        assert_eq!(q("a at 7:30am").due.as_deref(), Some("2026-11-25T07:30:00+01:00[Europe/Berlin]"), "passed today");
        assert_eq!(q("a friday at 14:00").due.as_deref(), Some("2026-11-27T14:00:00+01:00[Europe/Berlin]"));
        assert_eq!(q("a tomorrow at 9").due.as_deref(), Some("2026-11-25T09:00:00+01:00[Europe/Berlin]"));
        assert_eq!(q("a tomorrow 9 pm").due.as_deref(), Some("2026-11-25T21:00:00+01:00[Europe/Berlin]"));
        assert_eq!(q("a tonight").due.as_deref(), Some("2026-11-24T20:00:00+01:00[Europe/Berlin]"));
        assert_eq!(q("lunch at noon").title, "lunch");
        let utc = parse("a tomorrow 9am", Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap().with_timezone(&Tz::UTC));
        assert_eq!(utc.due.as_deref(), Some("2026-11-25T09:00:00Z"));
    }

    #[test]
    fn priorities() {
        for (s, p) in [
            ("!urgent", "urgent"),
            ("!1", "urgent"),
            ("!high", "high"),
            ("!2", "high"),
            ("!med", "medium"),
            ("!low", "low"),
            ("!4", "low"),
        ] {
            let t = q(&format!("x {s}"));
            assert_eq!(t.priority.as_deref(), Some(p), "{s}");
            assert_eq!(t.title, "x");
        }
        assert_eq!(q("wow! great").priority, None);
    }

    #[test]
    fn tags() {
        let t = q("x #Home #work-stuff #home");
        assert_eq!(t.tags, ["home", "work-stuff"]);
        assert_eq!(t.title, "x");
        assert_eq!(q("issue # 5").title, "issue # 5");
    }

    #[test]
    fn recurrences() {
        let r = |s: &str| q(s).recurrence;
        assert_eq!(r("x every day").as_deref(), Some("FREQ=DAILY"));
        assert_eq!(r("x daily").as_deref(), Some("FREQ=DAILY"));
        assert_eq!(r("x every other week").as_deref(), Some("FREQ=WEEKLY;INTERVAL=2"));
        assert_eq!(r("x every 3 months").as_deref(), Some("FREQ=MONTHLY;INTERVAL=3"));
        assert_eq!(r("x every weekday").as_deref(), Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"));
        assert_eq!(r("x every year").as_deref(), Some("FREQ=YEARLY"));
        let t = q("standup every mon and wed 9:30am");
        assert_eq!(t.recurrence.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO,WE"));
        assert_eq!(t.title, "standup");
        assert_eq!(t.due.as_deref(), Some("2026-11-25T09:30:00+01:00[Europe/Berlin]"), "the first occurrence");
        let t = q("water the ferns every! 3 days");
        assert_eq!(
            (t.recurrence.as_deref(), t.repeat_from),
            (Some("FREQ=DAILY;INTERVAL=3"), Some(RepeatFrom::Completion))
        );
        assert_eq!(t.title, "water the ferns");
        assert_eq!(q("x every 3 days").repeat_from, None);
        let t = q("gym every friday");
        assert_eq!(t.due.as_deref(), Some("2026-11-27"));
    }

    #[test]
    fn reminders() {
        let t = q("x tomorrow 9am remind me 15m before");
        assert_eq!(t.reminders, ["PT15M"]);
        assert_eq!(t.title, "x");
        assert_eq!(q("x today remind 1 day").reminders, ["P1D"]);
        assert_eq!(q("x today remind 2 hours before").reminders, ["PT2H"]);
    }

    #[test]
    fn escaped_words_stay_in_the_title() {
        let t = q(r"Read \friday magazine #news");
        assert_eq!(t.title, "Read friday magazine");
        assert!(t.due.is_none());
        assert_eq!(t.tags, ["news"]);
    }

    #[test]
    fn token_positions_point_into_the_text() {
        let text = "Pay rent tomorrow 9am !high #home every month";
        let t = parse(text, now());
        let chars: Vec<char> = text.chars().collect();
        for tok in &t.tokens {
            assert_eq!(chars[tok.start..tok.end].iter().collect::<String>(), tok.text);
        }
    }

    #[test]
    fn an_empty_title_is_a_validation_error() {
        let t = q("tomorrow !high");
        assert_eq!(t.title, "");
    }

    #[test]
    fn timezone_names() {
        assert_eq!(parse_timezone(None).unwrap(), Tz::UTC);
        assert_eq!(parse_timezone(Some("Europe/Berlin")).unwrap(), chrono_tz::Europe::Berlin);
        assert_eq!(parse_timezone(Some("Mars/Base")).unwrap_err().fields()[0].field, "timezone");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            " ",
            "!",
            "#",
            "every",
            "in",
            "in 3",
            "remind",
            "remind me",
            "at",
            "12:",
            ":30pm",
            "13pm",
            "0am",
            "31 feb",
            "every 0 days",
            "ünïcödé tomorrow ✓",
        ] {
            let _ = q(s);
        }
        assert_eq!(q("ünïcödé tomorrow ✓").title, "ünïcödé ✓");
    }
}
