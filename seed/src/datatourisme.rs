//! The DATAtourisme importer: JSON-LD objects of a flux export (files, folders of them, or the
//! zip of an export) mapped to offers and written through the one write path, in batches.
//!
//! Every object passes the checks every writer passes (URL schemes, e-mails, phones, text
//! lengths, control characters, geometry), and is rejected with a reason naming the field
//! otherwise. Importing the same objects again changes nothing; a newer `lastUpdate` updates the
//! offer, and of an object found twice in the paths read the newest version wins. The digest of
//! the bytes each offer was read from is kept (`import_digests`): an object whose bytes an earlier
//! import already read is known unchanged without being parsed (see [`Digests`]). Objects are written `BATCH` at a time in one unit of work (one catalog version),
//! two batches at once on PostgreSQL; when a batch fails in the database, its objects are written
//! one by one so only the bad one is lost.
//!
//! What an export can hold is bounded before it is read: zip entries (count, size of each, size of
//! all, checked on the bytes actually inflated), folder depth, and symbolic links are not followed.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use entities::domain::check;
use entities::domain::ids::offer_id;
use entities::domain::slug::slugify;
use entities::prelude::*;
use entities::values::{Accessibility, Address, Capacity, Codes, Contacts, Price, Prices, Texts};
use entities::vocab::{GeoPrecision, MediaKind, OfferKind, OfferStatus, RevisionAction};
use entities::write::{NewOffer, SlugRule, WriteError, Writer, check_offer};
use entities::{import_digest, media, offer};
use indexmap::IndexMap;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::Value;

mod kept;

/// The source name of imported records.
pub const SOURCE: &str = "datatourisme";
const LICENCE: &str = "Licence Ouverte / Etalab 2.0";
/// Objects written per unit of work.
pub const BATCH: usize = 500;
/// Most entries read from one zip archive.
pub const MAX_ZIP_ENTRIES: usize = 200_000;
/// Most bytes read from one entry (a JSON-LD object is a few kilobytes).
pub const MAX_ENTRY_BYTES: u64 = 8 * 1024 * 1024;
/// Most bytes inflated from one archive in all.
pub const MAX_ARCHIVE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Deepest folder walked.
pub const MAX_DEPTH: usize = 16;

/// Why an object was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file or archive could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The archive is broken.
    #[error("broken zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The archive or folder is beyond what is read.
    #[error("{0}")]
    TooLarge(String),
    /// Something the offer needs is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// A field fails the checks every writer passes.
    #[error("{0}")]
    Field(#[from] check::Invalid),
    /// The write path refused it.
    #[error("{0}")]
    Write(#[from] WriteError),
    /// The database refused the write.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// New offers.
    pub created: usize,
    /// Offers updated by a newer `lastUpdate`.
    pub updated: usize,
    /// Objects already imported at that `lastUpdate`.
    pub unchanged: usize,
    /// Of the unchanged objects, those known by the digest of their bytes and not parsed again.
    pub known: usize,
    /// Objects refused, with their name and the reason.
    pub rejected: Vec<(String, String)>,
}

/// How imported offers are written.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// The status of new offers: published (public at once) or draft (for an editor to review).
    pub status: OfferStatus,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { status: OfferStatus::Published }
    }
}

/// Most inflated bytes per compressed byte in an entry larger than [`RATIO_FROM_BYTES`]: JSON-LD
/// compresses about tenfold, a zip bomb a thousandfold and more.
pub const MAX_RATIO: u64 = 100;
/// Entries smaller than this are not held to [`MAX_RATIO`].
pub const RATIO_FROM_BYTES: u64 = 1024 * 1024;

/// Where an object comes from.
enum Source {
    /// A JSON file.
    File(PathBuf),
    /// A zip archive, read entry by entry.
    Zip(PathBuf),
    /// Something refused while walking (too deep, unreadable, too many entries).
    Refused(String, ImportError),
}

/// An object not parsed yet (see [`Raw::parse`]). A zip entry is read in the archive's order; a
/// file is read where it is parsed, on every core (see [`Raw::read`]).
#[derive(Debug)]
pub struct Raw {
    bytes: Vec<u8>,
    /// A file not read yet.
    unread: Option<PathBuf>,
    /// From a zip export, which also holds an index of its objects.
    in_archive: bool,
}

impl Raw {
    /// An object as read from `bytes` (tests and benchmarks; the import reads files and archives).
    pub fn new(bytes: Vec<u8>) -> Raw {
        Raw { bytes, unread: None, in_archive: false }
    }

    /// The object with its bytes read: a file is read here, within [`MAX_ENTRY_BYTES`].
    pub fn read(self) -> Result<Raw, ImportError> {
        let Some(path) = &self.unread else { return Ok(self) };
        Ok(Raw { bytes: read_file(path)?, unread: None, in_archive: self.in_archive })
    }

    /// The object with the members [`map`] reads (the others are checked and skipped), or `None`
    /// for what an export holds beside its objects (its index); a file not read yet is read.
    pub fn parse(&self) -> Result<Option<Value>, ImportError> {
        let read;
        let bytes = match &self.unread {
            Some(path) => {
                read = read_file(path)?;
                &read
            }
            None => &self.bytes,
        };
        let v = kept::parse(bytes, &kept::OBJECT)?;
        Ok(if self.in_archive && v.get("@id").is_none() { None } else { Some(v) })
    }
}

/// The bytes of a file, within [`MAX_ENTRY_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>, ImportError> {
    let f = std::fs::File::open(path)?;
    let size = f.metadata().map_or(0, |m| m.len());
    read_bounded(f, MAX_ENTRY_BYTES, size)
}

/// The JSON objects of files, folders (recursively, symbolic links not followed) and zip
/// archives, one at a time: an object is read when it is asked for (a file by [`Raw::read`]) and
/// dropped once mapped, so an import holds a few objects per core and one batch whatever the
/// archive's size.
pub struct Objects {
    pending: std::vec::IntoIter<Source>,
    archive: Option<OpenArchive>,
    total: usize,
}

impl Objects {
    /// How many objects (and refusals) there are to read.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl Iterator for Objects {
    type Item = (String, Result<Raw, ImportError>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(archive) = &mut self.archive {
                match archive.next_object() {
                    Some(item) => return Some(item),
                    None => self.archive = None,
                }
                continue;
            }
            match self.pending.next()? {
                Source::File(path) => {
                    let name = path.display().to_string();
                    return Some((name, Ok(Raw { bytes: Vec::new(), unread: Some(path), in_archive: false })));
                }
                Source::Zip(path) => match OpenArchive::open(&path) {
                    Ok(a) => self.archive = Some(a),
                    Err(e) => return Some((path.display().to_string(), Err(e))),
                },
                Source::Refused(name, e) => return Some((name, Err(e))),
            }
        }
    }
}

/// Lists the objects of files, folders and zip archives (see [`Objects`]).
pub fn read_objects(paths: &[PathBuf]) -> Objects {
    let mut sources = Vec::new();
    for path in paths {
        collect(path, 0, &mut sources);
    }
    let total = sources
        .iter()
        .map(|s| match s {
            Source::Zip(p) => OpenArchive::open(p).map_or(1, |a| a.objects),
            _ => 1,
        })
        .sum();
    Objects { pending: sources.into_iter(), archive: None, total }
}

fn collect(path: &Path, depth: usize, out: &mut Vec<Source>) {
    let name = path.display().to_string();
    // The link itself, not what it points to: a link to a folder above would make the walk loop.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return out.push(Source::Refused(name, e.into())),
    };
    if meta.file_type().is_symlink() && depth > 0 {
        return;
    }
    let is_dir = if meta.file_type().is_symlink() { path.is_dir() } else { meta.is_dir() };
    if is_dir {
        if depth >= MAX_DEPTH {
            return out.push(Source::Refused(
                name,
                ImportError::TooLarge(format!("folders deeper than {MAX_DEPTH} are not read")),
            ));
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => return out.push(Source::Refused(name, e.into())),
        };
        entries.sort();
        for e in entries {
            let is_link = std::fs::symlink_metadata(&e).is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                continue;
            }
            if e.is_dir() || e.extension().is_some_and(|x| x == "json" || x == "zip") {
                collect(&e, depth + 1, out);
            }
        }
    } else if path.extension().is_some_and(|x| x == "zip") {
        out.push(Source::Zip(path.to_owned()));
    } else {
        out.push(Source::File(path.to_owned()));
    }
}

/// Reads at most `limit` bytes; more is an error (a size a header declares can lie). `expected`
/// (a file's length, an entry's declared size) sizes the buffer once, within `limit`, instead of
/// doubling it from a few kilobytes, each time on fresh pages.
fn read_bounded(r: impl Read, limit: u64, expected: u64) -> Result<Vec<u8>, ImportError> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected.min(limit) + 1).unwrap_or(0));
    r.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ImportError::TooLarge(format!("an object of more than {limit} bytes is not read")));
    }
    Ok(bytes)
}

/// A zip archive being read: its JSON entries one by one, within the limits on entry size,
/// compression ratio and total inflated bytes.
struct OpenArchive {
    path: PathBuf,
    zip: zip::ZipArchive<std::fs::File>,
    next: usize,
    inflated: u64,
    objects: usize,
}

impl OpenArchive {
    fn open(path: &Path) -> Result<OpenArchive, ImportError> {
        let zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
        if zip.len() > MAX_ZIP_ENTRIES {
            return Err(ImportError::TooLarge(format!(
                "the archive has {} entries; at most {MAX_ZIP_ENTRIES} are read",
                zip.len()
            )));
        }
        let objects = zip.file_names().filter(|n| n.as_ref().is_ok_and(|n| n.ends_with(".json"))).count();
        Ok(OpenArchive { path: path.to_owned(), zip, next: 0, inflated: 0, objects })
    }

    fn next_object(&mut self) -> Option<(String, Result<Raw, ImportError>)> {
        while self.next < self.zip.len() {
            let index = self.next;
            self.next += 1;
            let file = match self.zip.by_index(index) {
                Ok(f) => f,
                Err(e) => return Some((format!("{}#{index}", self.path.display()), Err(e.into()))),
            };
            let inner = file.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
            if !inner.ends_with(".json") || file.is_dir() {
                continue;
            }
            let name = format!("{}:{inner}", self.path.display());
            let (declared, compressed) = (file.size(), file.compressed_size().max(1));
            if declared > MAX_ENTRY_BYTES {
                return Some((
                    name,
                    Err(ImportError::TooLarge(format!("an object of more than {MAX_ENTRY_BYTES} bytes is not read"))),
                ));
            }
            if declared > RATIO_FROM_BYTES && declared / compressed > MAX_RATIO {
                return Some((
                    name,
                    Err(ImportError::TooLarge(format!(
                        "compressed {}:1, more than {MAX_RATIO}:1: not a JSON-LD object but a zip bomb",
                        declared / compressed
                    ))),
                ));
            }
            // The declared size can lie: what is read is bounded, and so is the ratio of what is read.
            let bytes = read_bounded(file, MAX_ENTRY_BYTES, declared);
            let read = bytes.as_ref().map_or(MAX_ENTRY_BYTES, |b| b.len() as u64);
            self.inflated += read;
            if self.inflated > MAX_ARCHIVE_BYTES {
                self.next = self.zip.len();
                return Some((
                    self.path.display().to_string(),
                    Err(ImportError::TooLarge(format!(
                        "the archive inflates to more than {MAX_ARCHIVE_BYTES} bytes; the rest is not read"
                    ))),
                ));
            }
            if read > RATIO_FROM_BYTES && read / compressed > MAX_RATIO {
                return Some((
                    name,
                    Err(ImportError::TooLarge(format!(
                        "compressed more than {MAX_RATIO}:1: not a JSON-LD object but a zip bomb"
                    ))),
                ));
            }
            return Some((name, bytes.map(|bytes| Raw { bytes, unread: None, in_archive: true })));
        }
        None
    }
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// The first text of a member: a string, or a JSON-LD value object `{"@value": "…"}`.
fn first_str(v: &Value) -> Option<String> {
    as_list(v).into_iter().find_map(|x| literal(x).as_str()).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A member's literal as JSON-LD may write it: its first item when it is a list, the value of a
/// value object `{"@value": …, "@type": …}`, else the member itself (`Null` when absent).
fn literal(v: &Value) -> &Value {
    let first = match v {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    first.get("@value").unwrap_or(first)
}

/// `{"fr": ["…"], "en": "…"}` → our four languages.
fn texts(v: &Value) -> Option<Texts> {
    let get = |lang: &str| text_in(v, lang);
    let t = Texts { fr: get("fr"), en: get("en"), nl: get("nl"), de: get("de") };
    (!t.is_empty()).then_some(t)
}

/// The text in `lang` of a language map (`{"fr": ["…"]}`, as the flux writes texts) or of
/// language-tagged values (`[{"@value": "…", "@language": "fr-FR"}]`, JSON-LD's expanded form,
/// matched by the primary subtag).
fn text_in(v: &Value, lang: &str) -> Option<String> {
    match v {
        Value::Object(map) if !map.contains_key("@value") => map.get(lang).and_then(first_str),
        _ => as_list(v)
            .into_iter()
            .filter(|x| {
                let tag = x.get("@language").and_then(Value::as_str).unwrap_or("");
                tag.split('-').next().is_some_and(|primary| primary.eq_ignore_ascii_case(lang))
            })
            .find_map(first_str),
    }
}

fn kind_of(types: &[String]) -> OfferKind {
    let has = |t: &str| types.iter().any(|x| x == t || x.strip_prefix("schema:") == Some(t));
    if has("EntertainmentAndEvent") || has("Event") {
        OfferKind::Event
    } else if has("Accommodation") || has("LodgingBusiness") {
        OfferKind::Accommodation
    } else if has("FoodEstablishment") || has("Restaurant") {
        OfferKind::Restaurant
    } else if has("Tour") {
        OfferKind::Route
    } else if has("ActivityProvider") {
        OfferKind::Activity
    } else {
        OfferKind::Site
    }
}

fn day_code(id: &str) -> Option<&'static str> {
    Some(match id.trim_start_matches("schema:") {
        "Monday" => "Mo",
        "Tuesday" => "Tu",
        "Wednesday" => "We",
        "Thursday" => "Th",
        "Friday" => "Fr",
        "Saturday" => "Sa",
        "Sunday" => "Su",
        "PublicHolidays" => "PH",
        _ => return None,
    })
}

/// `%Y %b %d` and `%H:%M` as chrono's items, so that formatting does not parse a pattern each time
/// (a few hundred dates and times an object).
const OSM_DATE: [Item<'static>; 5] = [
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal(" "),
    Item::Fixed(Fixed::ShortMonthName),
    Item::Literal(" "),
    Item::Numeric(Numeric::Day, Pad::Zero),
];
const OSM_TIME: [Item<'static>; 3] =
    [Item::Numeric(Numeric::Hour, Pad::Zero), Item::Literal(":"), Item::Numeric(Numeric::Minute, Pad::Zero)];

/// A date as the flux writes it, `2024-07-01`, possibly followed by a time.
fn date_of(s: &str) -> Option<NaiveDate> {
    s.get(..10)?.parse().ok()
}

fn osm_date(s: &str) -> Option<String> {
    Some(date_of(s)?.format_with_items(OSM_DATE.iter()).to_string())
}

/// A time of day as the flux writes it: `14:30:00`, sometimes `14:30`.
fn time_of_day(s: &str) -> Option<NaiveTime> {
    s.parse().ok()
}

fn osm_time(s: &str) -> Option<String> {
    Some(time_of_day(s)?.format_with_items(OSM_TIME.iter()).to_string())
}

/// Both ends of a range converted; neither given is no range; anything else (one end, or an end
/// that does not convert) cannot be said in OpenStreetMap syntax.
fn range(
    a: Option<&str>,
    b: Option<&str>,
    convert: fn(&str) -> Option<String>,
    expressible: &mut bool,
) -> Option<(String, String)> {
    match (a, b) {
        (None, None) => None,
        (Some(a), Some(b)) => {
            let both = convert(a).zip(convert(b));
            *expressible &= both.is_some();
            both
        }
        _ => {
            *expressible = false;
            None
        }
    }
}

/// The days of the week in OpenStreetMap's order, then public holidays: bit `i` of a day set.
const DAYS: [&str; 8] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "PH"];

/// A set of days as OpenStreetMap writes it: runs of three weekdays or more as ranges
/// (`Mo-Fr,Su`), public holidays last.
fn osm_days(set: u8) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut day = 0;
    while day < 7 {
        if set & (1 << day) == 0 {
            day += 1;
            continue;
        }
        let mut last = day;
        while last + 1 < 7 && set & (1 << (last + 1)) != 0 {
            last += 1;
        }
        match last - day {
            0 => parts.push(DAYS[day].to_owned()),
            1 => parts.extend([DAYS[day].to_owned(), DAYS[last].to_owned()]),
            _ => parts.push(format!("{}-{}", DAYS[day], DAYS[last])),
        }
        day = last + 1;
    }
    if set & (1 << 7) != 0 {
        parts.push(DAYS[7].to_owned());
    }
    parts.join(",")
}

/// `openingHoursSpecification` → an OpenStreetMap expression when every part can be said so,
/// plus the remarks as text. The flux gives one specification per period, day and time slot;
/// they become one rule per period and set of days, with the days that share a time slot and the
/// slots that share those days together (`2024 Jul 01-2024 Aug 31 Mo-Fr 09:30-12:00,13:30-16:30`).
/// Rules are joined with `,` so they add up, as the specifications do.
fn opening_hours(specs: &[&Value]) -> (Option<String>, Option<String>) {
    // (dates, time slot, every day) → days, in the order met: `None` dates or slot is every date
    // or the whole day; no day is every day, and such a specification is kept apart from those
    // naming days.
    let mut slots: IndexMap<(Option<String>, Option<String>, bool), u8> = IndexMap::new();
    let mut notes = Vec::new();
    let mut expressible = true;
    for s in specs {
        if let Some(note) = text_in(&s["additionalInformation"], "fr")
            && !notes.contains(&note)
        {
            notes.push(note);
        }
        // A day is a node (`{"@id": "schema:Monday"}`) or its id; a day not known cannot be said,
        // and leaving it out would open the other days' rule on every day.
        let listed = as_list(&s["schema:dayOfWeek"]);
        let known: Vec<usize> = listed
            .iter()
            .filter_map(|d| d.get("@id").unwrap_or(d).as_str())
            .filter_map(day_code)
            .filter_map(|code| DAYS.iter().position(|d| *d == code))
            .collect();
        expressible &= known.len() == listed.len();
        let days = known.into_iter().fold(0u8, |set, day| set | 1 << day);
        let field = |k: &str| literal(&s[k]).as_str();
        let dates = range(field("schema:validFrom"), field("schema:validThrough"), osm_date, &mut expressible)
            .map(|(f, t)| format!("{f}-{t}"));
        let time = range(field("schema:opens"), field("schema:closes"), osm_time, &mut expressible)
            .map(|(o, c)| format!("{o}-{}", if c == "00:00" { "24:00".to_owned() } else { c }));
        if dates.is_none() && days == 0 && time.is_none() {
            expressible = false;
            continue;
        }
        *slots.entry((dates, time, days == 0)).or_default() |= days;
    }
    // (dates, days, whole day) → the time slots of that period and set of days.
    let mut rules: IndexMap<(Option<String>, u8, bool), Vec<String>> = IndexMap::new();
    for ((dates, time, _), days) in slots {
        let whole_day = time.is_none();
        rules.entry((dates, days, whole_day)).or_default().extend(time);
    }
    let rules: Vec<String> = rules
        .into_iter()
        .map(|((dates, days, _), mut times)| {
            times.sort();
            times.dedup();
            let days = (days != 0).then(|| osm_days(days));
            let times = (!times.is_empty()).then(|| times.join(","));
            [dates, days, times].into_iter().flatten().collect::<Vec<_>>().join(" ")
        })
        .collect();
    let expression = (expressible && !rules.is_empty()).then(|| rules.join(", "));
    let expression = expression.filter(|e| entities::domain::hours::check(e).is_ok());
    let text = if expression.is_none() && !specs.is_empty() && notes.is_empty() {
        Some(format!("{} périodes d'ouverture non exprimables en syntaxe OpenStreetMap", specs.len()))
    } else {
        (!notes.is_empty()).then(|| notes.join("\n"))
    };
    (expression, text)
}

fn paris(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    chrono_tz::Europe::Paris
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

/// A place's `schema:geo` as (latitude, longitude) when both are given and in range; JSON-LD lets
/// the point be a list and each coordinate a string, a number or a value object.
fn coordinates(place: &Value) -> Option<(f64, f64)> {
    let geo = literal(&place["schema:geo"]);
    let coordinate = |k: &str| {
        let x = literal(&geo[k]);
        x.as_str().and_then(|s| s.trim().parse::<f64>().ok()).or_else(|| x.as_f64())
    };
    let (lat, lon) = (coordinate("schema:latitude")?, coordinate("schema:longitude")?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// `takesPlaceAt` periods → occurrences (Europe/Paris dates; a day without times is the whole day,
/// a period without an end date its start date).
fn occurrences(periods: &[&Value]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for p in periods {
        let Some(s) = literal(&p["startDate"]).as_str() else { continue };
        let e = literal(&p["endDate"]).as_str().unwrap_or(s);
        let (Ok(sd), Ok(ed)) = (s.parse::<NaiveDate>(), e.parse::<NaiveDate>()) else {
            continue;
        };
        let st = literal(&p["startTime"]).as_str().and_then(time_of_day).unwrap_or(NaiveTime::MIN);
        let et = literal(&p["endTime"])
            .as_str()
            .and_then(time_of_day)
            .unwrap_or_else(|| NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
        if let (Some(start), Some(end)) = (paris(sd, st), paris(ed, et))
            && end >= start
        {
            out.push((start, end));
        }
    }
    out.sort();
    out.dedup_by_key(|o| o.0);
    out
}

fn media_items(v: &Value) -> Vec<media::Model> {
    let mut items: Vec<media::Model> = Vec::new();
    for key in ["hasMainRepresentation", "hasRepresentation"] {
        for rep in as_list(&v[key]) {
            let annotation = as_list(&rep["ebucore:hasAnnotation"]).into_iter().next().cloned().unwrap_or(Value::Null);
            for res in as_list(&rep["ebucore:hasRelatedResource"]) {
                let Some(url) = first_str(&res["ebucore:locator"]) else { continue };
                let mime =
                    as_list(&res["ebucore:hasMimeType"]).into_iter().find_map(|m| text_in(&m["rdfs:label"], "en"));
                let kind = media_kind(mime.as_deref(), &url);
                items.push(media::Model {
                    id: String::new(),
                    offer_id: String::new(),
                    position: 0,
                    kind,
                    url,
                    title: texts(&annotation["ebucore:title"]),
                    licence: first_str(&annotation["ebucore:isCoveredBy"]),
                    credit: first_str(&annotation["credits"]),
                    mime_type: mime,
                });
            }
        }
    }
    let mut seen = HashSet::new();
    items.retain(|m| seen.insert(m.url.clone()));
    items
}

/// A medium's kind by its MIME type's family (`application/pdf`, `application/gpx+xml` and any
/// other than image, video and audio are documents), else by its file's extension; a picture when
/// neither says.
fn media_kind(mime: Option<&str>, url: &str) -> MediaKind {
    if let Some((family, _)) = mime.map(str::trim).and_then(|m| m.split_once('/')) {
        return match family.to_ascii_lowercase().as_str() {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            _ => MediaKind::Document,
        };
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or(path);
    let extension = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "pdf" | "gpx" | "kml" | "kmz" | "geojson" | "doc" | "docx" | "odt" | "txt" => MediaKind::Document,
        "mp4" | "webm" | "mov" | "avi" | "mkv" => MediaKind::Video,
        "mp3" | "ogg" | "oga" | "wav" | "m4a" | "flac" => MediaKind::Audio,
        _ => MediaKind::Image,
    }
}

fn prices(v: &Value) -> Option<Prices> {
    let mut out = Vec::new();
    for offer in as_list(&v["offers"]) {
        for spec in as_list(&offer["schema:priceSpecification"]) {
            let label = as_list(&spec["hasEligiblePolicy"]).into_iter().find_map(|p| text_in(&p["rdfs:label"], "fr"));
            let num = |k: &str| first_str(&spec[k]).and_then(|s| s.replace(',', ".").parse::<f64>().ok());
            let (min, max) = match (num("schema:minPrice"), num("schema:maxPrice")) {
                // The flux sometimes gives the bounds of a range the wrong way round.
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                (None, None) => continue,
                pair => pair,
            };
            out.push(Price {
                label,
                min_price: min,
                max_price: max,
                currency: Some(literal(&spec["schema:priceCurrency"]).as_str().unwrap_or("EUR").to_owned()),
            });
        }
    }
    (!out.is_empty()).then_some(Prices(out))
}

fn labels(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = as_list(&v["hasReview"])
        .into_iter()
        .filter_map(|r| r.get("hasReviewValue"))
        .filter_map(|rv| text_in(&rv["rdfs:label"], "fr"))
        .map(|l| slugify(&l))
        .filter(|l| !l.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An object mapped to an offer, with what hangs off it.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The offer row (version and times are settled on write).
    pub offer: offer::Model,
    /// Occurrences.
    pub occurrences: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Media.
    pub media: Vec<media::Model>,
    /// The digest of the bytes the object was read from, when read by [`import`].
    pub digest: Option<Digest>,
}

/// Maps a DATAtourisme object and checks it as every writer's data is checked; `territory`
/// holds the INSEE codes of the territory's communes.
pub fn map(v: &Value, territory: &HashSet<String>, options: ImportOptions) -> Result<Mapped, ImportError> {
    let uri = v.get("@id").and_then(Value::as_str).ok_or_else(|| ImportError::Invalid("no @id".into()))?;
    if !uri.starts_with("https://data.datatourisme.fr/") || uri.len() > 300 {
        return Err(ImportError::Invalid(format!("{uri:?} is not a DATAtourisme object")));
    }
    let types: Vec<String> = as_list(&v["@type"]).iter().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    let mut name =
        texts(&v["rdfs:label"]).ok_or_else(|| ImportError::Invalid("no rdfs:label in fr, en, nl or de".into()))?;
    if name.fr.is_none() {
        return Err(ImportError::Invalid("no French label".into()));
    }
    // Names longer than ours are cut, not refused: the rest of the object is worth having.
    for t in [&mut name.fr, &mut name.en, &mut name.nl, &mut name.de].into_iter().flatten() {
        *t = t.chars().take(200).collect::<String>().trim().to_owned();
    }
    // The place the offer stands at: the first with coordinates (an object may list several).
    let places = as_list(&v["isLocatedAt"]);
    if places.is_empty() {
        return Err(ImportError::Invalid("no isLocatedAt".into()));
    }
    let (place, (lat, lon)) = places
        .into_iter()
        .find_map(|place| Some((place, coordinates(place)?)))
        .ok_or_else(|| ImportError::Invalid("no valid schema:geo latitude and longitude".into()))?;
    let address = as_list(&place["schema:address"]).into_iter().next();
    let insee = address.and_then(|a| literal(&literal(&a["hasAddressCity"])["insee"]).as_str()).map(str::to_owned);
    let address = address.map(|a| Address {
        street: Some(
            as_list(&a["schema:streetAddress"])
                .iter()
                .filter_map(|s| literal(s).as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
        .filter(|s| !s.is_empty()),
        postal_code: literal(&a["schema:postalCode"]).as_str().map(str::to_owned),
        locality: literal(&a["schema:addressLocality"]).as_str().map(str::to_owned),
        insee_code: insee.clone(),
    });
    let in_territory = insee.as_ref().is_some_and(|c| territory.contains(c));
    let description = as_list(&v["hasDescription"]).into_iter().next();
    let short = description.and_then(|d| texts(&d["shortDescription"])).or_else(|| texts(&v["rdfs:comment"]));
    let long = description.and_then(|d| texts(&d["dc:description"]));
    let mut contacts = Contacts::default();
    for c in as_list(&v["hasContact"]) {
        let strings =
            |k: &str| as_list(&c[k]).iter().filter_map(|x| literal(x).as_str().map(str::to_owned)).collect::<Vec<_>>();
        contacts.phones.extend(strings("schema:telephone"));
        contacts.emails.extend(strings("schema:email"));
        contacts.websites.extend(strings("foaf:homepage"));
    }
    let specs = as_list(&place["schema:openingHoursSpecification"]);
    let (hours, hours_text) = opening_hours(&specs);
    let updated = literal(&v["lastUpdateDatatourisme"])
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            literal(&v["lastUpdate"])
                .as_str()
                .and_then(|s| s.parse::<NaiveDate>().ok())
                .and_then(|d| paris(d, NaiveTime::MIN))
        });
    let publisher = as_list(&v["hasBeenPublishedBy"])
        .into_iter()
        .next()
        .and_then(|p| literal(&p["schema:legalName"]).as_str())
        .map(|p| p.chars().take(200).collect::<String>());
    let attribution = match publisher {
        Some(p) => format!("DATAtourisme, {p}"),
        None => "DATAtourisme".to_owned(),
    };
    let mut classes: Vec<String> = types.iter().map(|t| t.trim_start_matches("schema:").to_owned()).collect();
    classes.dedup();
    let persons = literal(&v["allowedPersons"]);
    let capacity = persons
        .as_i64()
        .or_else(|| persons.as_str().and_then(|s| s.trim().parse().ok()))
        .and_then(|p| i32::try_from(p).ok())
        .map(|p| Capacity { people: Some(p), ..Capacity::default() });
    let accessibility = literal(&v["reducedMobilityAccess"]).as_bool().map(|b| Accessibility {
        wheelchair: Some(if b { "yes" } else { "no" }.to_owned()),
        tourisme_handicap: Vec::new(),
    });
    let id = offer_id(SOURCE, uri);
    let now = Utc::now();
    let offer = offer::Model {
        slug: slugify(name.fr.as_deref().unwrap_or("")),
        kind: kind_of(&types),
        classes: Codes(classes),
        is_totem: false,
        name,
        short_description: short,
        description: long,
        lon,
        lat,
        geo_precision: GeoPrecision::Exact,
        geometry: None,
        min_lon: lon,
        min_lat: lat,
        max_lon: lon,
        max_lat: lat,
        commune_insee: if in_territory { insee.clone() } else { None },
        in_territory,
        address,
        contacts: (!contacts.is_empty()).then_some(contacts),
        opening_hours: hours,
        opening_hours_text: hours_text,
        prices: prices(v),
        accessibility,
        labels: Codes(labels(v)),
        capacity,
        source: SOURCE.into(),
        source_id: uri.to_owned(),
        source_licence: LICENCE.into(),
        source_attribution: attribution,
        source_url: Some(uri.to_owned()),
        source_updated_at: updated,
        owner: None,
        status: options.status,
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        catalog_version: 0,
        published_once: false,
        classification: None,
        id,
    };
    // The checks every writer passes, here for a reason per object before anything is written.
    check_offer(&offer, "")?;
    // A picture without a licence of its own cannot be shown: it is left out, not the object.
    let media: Vec<media::Model> =
        media_items(v).into_iter().filter(|m| m.licence.as_deref().is_some_and(|l| !l.trim().is_empty())).collect();
    for (i, m) in media.iter().enumerate() {
        check::url(&format!("media[{i}].url"), &m.url)?;
    }
    Ok(Mapped { offer, occurrences: occurrences(&as_list(&v["takesPlaceAt"])), media, digest: None })
}

/// What happened to one object.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// A new offer.
    Created,
    /// A newer version replaced the offer.
    Updated,
    /// Already there at that `lastUpdate`.
    Unchanged,
}

/// A BLAKE3 digest of an object's bytes and of what else decides how it maps.
pub type Digest = [u8; 32];

/// What the digests cover besides an object's bytes. Changed when a change of the mapping must
/// make the next import read every object again.
const DIGEST_CONTEXT: &[u8] = b"porte-du-hainaut datatourisme import 1\0";

/// The digests of the objects earlier imports read, and how to make one.
///
/// A daily export holds mostly the objects of the day before, byte for byte. An object's digest
/// covers its bytes and what else decides how it maps: the mapping's revision
/// (`DIGEST_CONTEXT`), the options and the territory's communes. A digest is known when an offer
/// of this source still has the identifier the object was imported as, with a `lastUpdate` at
/// least the one its bytes carry: the import would find it unchanged, so it counts it so without
/// parsing it. Any other object (new bytes, a purged offer, an offer set back to an older
/// version, another territory or other options) is parsed and written as before, and its digest
/// is kept once it is written or found unchanged.
pub struct Digests {
    context: blake3::Hasher,
    known: HashSet<Digest>,
}

impl Digests {
    /// The digests known in `db` for objects imported into `territory` with `options`.
    pub async fn load(
        db: &impl ConnectionTrait,
        territory: &HashSet<String>,
        options: ImportOptions,
    ) -> Result<Digests, ImportError> {
        use import_digest::Column as D;
        use sea_orm::sea_query::ExprTrait as _;
        let context = Digests::context(territory, options);
        let query = Query::select()
            .column((import_digest::Entity, D::Digest))
            .from(import_digest::Entity)
            .inner_join(
                offer::Entity,
                Expr::col((offer::Entity, offer::Column::Source)).equals((import_digest::Entity, D::Source)).and(
                    Expr::col((offer::Entity, offer::Column::SourceId)).equals((import_digest::Entity, D::SourceId)),
                ),
            )
            .and_where(Expr::col((import_digest::Entity, D::Source)).eq(SOURCE))
            .and_where(
                Expr::col((offer::Entity, offer::Column::SourceUpdatedAt))
                    .gte(Expr::col((import_digest::Entity, D::SourceUpdatedAt))),
            )
            .to_owned();
        let mut known = HashSet::new();
        for row in db.query_all(&query).await? {
            let digest: Vec<u8> = row.try_get("", "digest")?;
            if let Ok(digest) = Digest::try_from(digest.as_slice()) {
                known.insert(digest);
            }
        }
        Ok(Digests { context, known })
    }

    /// No digest known (tests and benchmarks).
    pub fn none(territory: &HashSet<String>, options: ImportOptions) -> Digests {
        Digests { context: Digests::context(territory, options), known: HashSet::new() }
    }

    fn context(territory: &HashSet<String>, options: ImportOptions) -> blake3::Hasher {
        let mut context = blake3::Hasher::new();
        context.update(DIGEST_CONTEXT);
        context.update(options.status.code().as_bytes());
        let mut communes: Vec<&String> = territory.iter().collect();
        communes.sort();
        for commune in communes {
            context.update(b"\0");
            context.update(commune.as_bytes());
        }
        context.update(b"\0\0");
        context
    }

    /// The digest of an object's `bytes`.
    pub fn of(&self, bytes: &[u8]) -> Digest {
        self.context.clone().update(bytes).finalize().into()
    }

    /// Whether an object of this `digest` is known: its offer is unchanged.
    pub fn known(&self, digest: &Digest) -> bool {
        self.known.contains(digest)
    }
}

/// The digest row of a mapped object, when it was read by [`import`] and carries a `lastUpdate`.
fn digest_row(m: &Mapped) -> Option<import_digest::ActiveModel> {
    Some(import_digest::ActiveModel {
        source: Set(SOURCE.to_owned()),
        source_id: Set(m.offer.source_id.clone()),
        digest: Set(m.digest?.to_vec()),
        source_updated_at: Set(m.offer.source_updated_at?),
    })
}

/// Keeps the digests of objects written or found unchanged in the unit `w`, in place of the
/// digests their offers had.
async fn remember(w: &mut Writer, rows: Vec<import_digest::ActiveModel>) -> Result<(), ImportError> {
    use import_digest::Column as D;
    if rows.is_empty() {
        return Ok(());
    }
    ImportDigest::insert_many(rows)
        .on_conflict(
            OnConflict::columns([D::Source, D::SourceId]).update_columns([D::Digest, D::SourceUpdatedAt]).to_owned(),
        )
        .exec(w.db())
        .await?;
    w.wrote_aside();
    Ok(())
}

/// Writes one mapped object in the unit `w`.
async fn write_one(w: &mut Writer, m: Mapped) -> Result<Outcome, ImportError> {
    let digest = digest_row(&m);
    let current = w.find_by_source(SOURCE, &m.offer.source_id).await?;
    let outcome = match current {
        Some(c) => write_existing(w, &c, m).await?,
        None => {
            let o = w.create(m.offer, SlugRule::FromName, RevisionAction::Import).await?;
            w.set_occurrences(&o.id, &m.occurrences).await?;
            w.set_media(&o.id, m.media).await?;
            Outcome::Created
        }
    };
    remember(w, digest.into_iter().collect()).await?;
    Ok(outcome)
}

/// Writes a mapped object over the offer `current` it already is, unless `current` is as new.
async fn write_existing(w: &mut Writer, current: &offer::Model, m: Mapped) -> Result<Outcome, ImportError> {
    let Some(o) = over(current, &m) else { return Ok(Outcome::Unchanged) };
    w.update(current, o, current.version, RevisionAction::Import).await?;
    w.set_occurrences(&current.id, &m.occurrences).await?;
    w.set_media(&current.id, m.media).await?;
    Ok(Outcome::Updated)
}

/// The offer `current` with the fields of the mapped object `m`, unless `current` is as new.
fn over(current: &offer::Model, m: &Mapped) -> Option<offer::Model> {
    if current.source_updated_at.is_some() && current.source_updated_at >= m.offer.source_updated_at {
        return None;
    }
    // The source owns the fields; the database owns the id, slug, status and history.
    let mut o = m.offer.clone();
    o.id = current.id.clone();
    o.slug = current.slug.clone();
    o.status = current.status;
    o.deleted_at = current.deleted_at;
    o.owner = current.owner.clone();
    Some(o)
}

/// Writes mapped objects in one unit of work with bulk statements: the offers they already are
/// found with one query, the new ones created together (slugs, occurrences and media included).
async fn write_together(
    w: &mut Writer,
    batch: &[(String, Mapped)],
    reserved: &HashSet<String>,
) -> Result<Vec<Outcome>, ImportError> {
    let ids: Vec<&str> = batch.iter().map(|(_, m)| m.offer.source_id.as_str()).collect();
    let existing = w.find_many_by_source(SOURCE, &ids).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut new = Vec::new();
    // The offers updated are written together, their occurrences and media replaced together.
    let (mut updated, mut occurrences, mut media) = (Vec::new(), Vec::new(), Vec::new());
    for (_, m) in batch {
        match existing.get(&m.offer.source_id) {
            Some(current) => match over(current, m) {
                Some(o) => {
                    updated.push((current, o));
                    occurrences.push((current.id.as_str(), m.occurrences.as_slice()));
                    media.push((current.id.clone(), m.media.clone()));
                    outcomes.push(Outcome::Updated);
                }
                None => outcomes.push(Outcome::Unchanged),
            },
            None => new.push(m),
        }
    }
    w.update_many(updated, RevisionAction::Import).await?;
    w.set_occurrences_many(&occurrences).await?;
    w.set_media_many(media).await?;
    let mut offers: Vec<offer::Model> = new.iter().map(|m| m.offer.clone()).collect();
    w.settle_slugs_from_names(&mut offers, reserved).await?;
    let created = offers
        .into_iter()
        .zip(new)
        .map(|(offer, m)| NewOffer {
            offer,
            themes: Vec::new(),
            occurrences: m.occurrences.clone(),
            route: None,
            media: m.media.clone(),
        })
        .collect::<Vec<_>>();
    outcomes.extend(std::iter::repeat_n(Outcome::Created, created.len()));
    w.create_many(created, RevisionAction::Import).await?;
    remember(w, batch.iter().filter_map(|(_, m)| digest_row(m)).collect()).await?;
    Ok(outcomes)
}

/// A batch as written in one unit of work, or handed back when the database refused it.
enum Written {
    /// Committed, with what happened to each object.
    Committed(Vec<Outcome>),
    /// Refused and rolled back: its objects are to be written one by one.
    Refused(Vec<(String, Mapped)>),
}

/// Writes mapped objects in one unit of work, their new slugs chosen outside `reserved`.
async fn write_batch(
    db: DatabaseConnection,
    batch: Vec<(String, Mapped)>,
    reserved: HashSet<String>,
) -> Result<Written, ImportError> {
    let mut w = Writer::begin(&db, "import:datatourisme", "").await?;
    match write_together(&mut w, &batch, &reserved).await {
        Ok(outcomes) => {
            w.commit().await?;
            Ok(Written::Committed(outcomes))
        }
        Err(e) => {
            tracing::debug!(error = %e, "batch refused; writing its objects one by one");
            w.rollback().await?;
            Ok(Written::Refused(batch))
        }
    }
}

/// Writes each object in a unit of its own, so one bad object costs only itself.
async fn write_one_by_one(
    db: &DatabaseConnection,
    batch: Vec<(String, Mapped)>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for (name, m) in batch {
        let mut w = Writer::begin(db, "import:datatourisme", "").await?;
        match write_one(&mut w, m).await {
            Ok(o) => {
                w.commit().await?;
                count(report, Ok(o));
            }
            Err(e) => {
                w.rollback().await?;
                report.rejected.push((name, e.to_string()));
            }
        }
    }
    Ok(())
}

/// A batch being written, with the slugs its new offers may take.
type Writing = (tokio::task::JoinHandle<Result<Written, ImportError>>, HashSet<String>);

/// The batches being written, at most [`Batches::depth`] at once, oldest first.
///
/// On PostgreSQL two batches are written at once: while the database writes one, this process
/// sends the next, and each batch takes its catalog version when it commits. A batch gives its
/// new offers slugs that the batch before it cannot take (see
/// [`entities::write::slugs_from_name`]), so they do not collide while both are written. A
/// refused batch is written one object at a time once no other is being written. SQLite has one
/// writer: one batch at a time.
struct Batches {
    db: DatabaseConnection,
    depth: usize,
    writing: std::collections::VecDeque<Writing>,
}

impl Batches {
    fn new(db: &DatabaseConnection) -> Batches {
        let depth = if db.get_database_backend() == sea_orm::DbBackend::Postgres { 2 } else { 1 };
        Batches { db: db.clone(), depth, writing: std::collections::VecDeque::new() }
    }

    /// Starts writing `batch`, after waiting for the oldest batch when `depth` are being written.
    async fn write(&mut self, batch: Vec<(String, Mapped)>, report: &mut ImportReport) -> Result<(), ImportError> {
        while self.writing.len() >= self.depth {
            self.finish_oldest(report).await?;
        }
        let reserved: HashSet<String> = self.writing.iter().flat_map(|(_, slugs)| slugs.iter().cloned()).collect();
        let slugs = batch.iter().flat_map(|(_, m)| entities::write::slugs_from_name(&m.offer)).collect();
        let task = tokio::spawn(write_batch(self.db.clone(), batch, reserved));
        self.writing.push_back((task, slugs));
        Ok(())
    }

    /// Waits for the oldest batch being written; if it was refused, waits for the others and
    /// writes its objects one by one.
    async fn finish_oldest(&mut self, report: &mut ImportReport) -> Result<(), ImportError> {
        let Some((task, _)) = self.writing.pop_front() else { return Ok(()) };
        match joined(task.await)? {
            Written::Committed(outcomes) => {
                for o in outcomes {
                    count(report, Ok(o));
                }
                Ok(())
            }
            Written::Refused(batch) => {
                let mut refused = vec![batch];
                while let Some((task, _)) = self.writing.pop_front() {
                    match joined(task.await)? {
                        Written::Committed(outcomes) => outcomes.into_iter().for_each(|o| count(report, Ok(o))),
                        Written::Refused(batch) => refused.push(batch),
                    }
                }
                for batch in refused {
                    write_one_by_one(&self.db, batch, report).await?;
                }
                Ok(())
            }
        }
    }

    /// Waits for every batch being written.
    async fn finish(&mut self, report: &mut ImportReport) -> Result<(), ImportError> {
        while !self.writing.is_empty() {
            self.finish_oldest(report).await?;
        }
        Ok(())
    }
}

/// The outcome of a batch's task; one that panicked stops the import.
fn joined(result: Result<Result<Written, ImportError>, tokio::task::JoinError>) -> Result<Written, ImportError> {
    result.map_err(|e| ImportError::Invalid(format!("a batch could not be written: {e}")))?
}

fn count(report: &mut ImportReport, outcome: Result<Outcome, ()>) {
    match outcome {
        Ok(Outcome::Created) => report.created += 1,
        Ok(Outcome::Updated) => report.updated += 1,
        Ok(Outcome::Unchanged) | Err(()) => report.unchanged += 1,
    }
}

/// What reading one object gave.
#[derive(Debug)]
enum Met {
    /// Not an object (an export's index).
    Aside,
    /// Bytes an earlier import read (see [`Digests`]): its offer is unchanged.
    Known,
    /// An object mapped, with its digest.
    Mapped(Box<Mapped>),
}

/// An object by name, as met or refused.
type MappedItem = (String, Result<Met, ImportError>);

/// Objects read in a row and mapped together, a few per core.
const CHUNK_PER_CORE: usize = 8;

/// Takes `objects` in order on this thread (zip entries are inflated here), and reads files,
/// digests, parses and maps them on every core (Rayon's pool, whose threads and their allocator
/// caches live as long as the process), sending them in order.
fn map_everywhere(
    objects: Objects,
    territory: &HashSet<String>,
    options: ImportOptions,
    digests: &Digests,
    out: &tokio::sync::mpsc::Sender<MappedItem>,
) {
    use rayon::prelude::*;
    let cores = rayon::current_num_threads().min(8);
    let mut objects = objects;
    // Chunks are mapped on the pool while this thread (not one of the pool's) takes the next
    // ones and sends those done, in order. Objects differ in size (five times between the
    // fixtures): Rayon hands each core the next object when it is done with one, and with two
    // chunks in flight no core waits for the slowest object of a chunk.
    rayon::in_place_scope(|scope| {
        let mut in_flight = std::collections::VecDeque::with_capacity(CHUNKS_IN_FLIGHT);
        loop {
            while in_flight.len() < CHUNKS_IN_FLIGHT {
                let chunk: Vec<(String, Result<Raw, ImportError>)> =
                    objects.by_ref().take(cores * CHUNK_PER_CORE).collect();
                if chunk.is_empty() {
                    break;
                }
                let (done, mapped) = std::sync::mpsc::sync_channel::<Vec<MappedItem>>(1);
                scope.spawn(move |_| {
                    let items = chunk
                        .into_par_iter()
                        .map(|(name, raw)| (name, map_one(raw, territory, options, digests)))
                        .collect();
                    // The receiver is gone only when the import stopped.
                    let _ = done.send(items);
                });
                in_flight.push_back(mapped);
            }
            let Some(next) = in_flight.pop_front() else { return };
            let Ok(items) = next.recv() else { return };
            for item in items {
                if out.blocking_send(item).is_err() {
                    return;
                }
            }
        }
    });
}

/// Chunks of objects being mapped at once by [`map_everywhere`].
const CHUNKS_IN_FLIGHT: usize = 2;

/// Reads, digests, parses and maps one object; an object whose mapping panics is refused, the
/// others are not affected.
fn map_one(
    raw: Result<Raw, ImportError>,
    territory: &HashSet<String>,
    options: ImportOptions,
    digests: &Digests,
) -> Result<Met, ImportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let raw = raw?.read()?;
        let digest = digests.of(&raw.bytes);
        if digests.known(&digest) {
            return Ok(Met::Known);
        }
        let Some(v) = raw.parse()? else { return Ok(Met::Aside) };
        let mut m = map(&v, territory, options)?;
        m.digest = Some(digest);
        Ok(Met::Mapped(Box::new(m)))
    }))
    .unwrap_or_else(|_| Err(ImportError::Invalid("the object could not be mapped".into())))
}

/// Imports every object under `paths`, with a progress bar on a terminal. Objects are read in
/// order, parsed and mapped on every core while the batches before them are written.
pub async fn import(
    db: &DatabaseConnection,
    paths: &[PathBuf],
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let territory: HashSet<String> = Commune::find().all(db).await?.into_iter().map(|c| c.insee).collect();
    let digests = Digests::load(db, &territory, options).await?;
    let objects = read_objects(paths);
    let mut bar = crate::progress::bar(objects.total() as u64, "objects");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<MappedItem>(BATCH);
    let reader = std::thread::spawn(move || map_everywhere(objects, &territory, options, &digests, &tx));
    let mut report = ImportReport::default();
    // The objects of the batch being gathered, by source id: an object met twice in one batch
    // is written once, as its newest version; met again in a later batch, the write path
    // compares it with what the earlier one wrote.
    let mut in_batch: HashMap<String, usize> = HashMap::new();
    let mut batch: Vec<(String, Mapped)> = Vec::with_capacity(BATCH);
    let mut batches = Batches::new(db);
    let mut written = Ok(());
    while let Some((name, mapped)) = rx.recv().await {
        match mapped {
            Ok(Met::Aside) => {}
            Ok(Met::Known) => {
                report.unchanged += 1;
                report.known += 1;
            }
            Ok(Met::Mapped(m)) => match in_batch.get(&m.offer.source_id) {
                Some(&i) => {
                    report.unchanged += 1;
                    if m.offer.source_updated_at > batch[i].1.offer.source_updated_at {
                        batch[i] = (name, *m);
                    }
                }
                None => {
                    in_batch.insert(m.offer.source_id.clone(), batch.len());
                    batch.push((name, *m));
                }
            },
            Err(e) => report.rejected.push((name, e.to_string())),
        }
        bar.inc(1);
        if batch.len() >= BATCH {
            in_batch.clear();
            written = batches.write(std::mem::take(&mut batch), &mut report).await;
            if written.is_err() {
                break;
            }
        }
    }
    // Dropping the receiver stops the reader at its next object.
    drop(rx);
    if reader.join().is_err() {
        return Err(ImportError::Invalid("the reader of the objects stopped".into()));
    }
    if !batch.is_empty() && written.is_ok() {
        written = batches.write(batch, &mut report).await;
    }
    // Every batch started is waited for, even after an error, so none is left half-done.
    let finished = batches.finish(&mut report).await;
    written?;
    finished?;
    bar.finish_and_clear();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn opening_hours_become_osm_rules_with_their_dates() {
        let spec = json!({
            "schema:dayOfWeek": [{"@id": "schema:Friday"}],
            "schema:opens": "16:30:00", "schema:closes": "18:00:00",
            "schema:validFrom": "2024-07-01T16:30:00", "schema:validThrough": "2024-08-31T18:00:00"
        });
        let (expr, text) = opening_hours(&[&spec]);
        assert_eq!(expr.as_deref(), Some("2024 Jul 01-2024 Aug 31 Fr 16:30-18:00"));
        assert_eq!(text, None);
    }

    #[test]
    fn specifications_of_one_period_share_their_rules() {
        let spec = |day: &str, opens: &str, closes: &str| {
            json!({
                "schema:dayOfWeek": [{"@id": format!("schema:{day}")}],
                "schema:opens": opens, "schema:closes": closes,
                "schema:validFrom": "2024-07-01T00:00:00", "schema:validThrough": "2024-08-31T00:00:00"
            })
        };
        let mut specs = Vec::new();
        for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] {
            specs.push(spec(day, "13:30:00", "16:30:00"));
            specs.push(spec(day, "09:30:00", "12:00:00"));
        }
        specs.extend([spec("Saturday", "10:00", "12:00"), spec("Sunday", "10:00", "12:00")]);
        specs.push(spec("PublicHolidays", "10:00", "12:00"));
        specs.push(spec("Wednesday", "09:30:00", "12:00:00"));
        let (expr, _) = opening_hours(&specs.iter().collect::<Vec<_>>());
        assert_eq!(
            expr.as_deref(),
            Some("2024 Jul 01-2024 Aug 31 Mo-Fr 09:30-12:00,13:30-16:30, 2024 Jul 01-2024 Aug 31 Sa,Su,PH 10:00-12:00")
        );
        // Days may be given by their ids; a day not known makes the hours inexpressible.
        let by_id = json!({"schema:dayOfWeek": ["schema:Monday", {"@id": "schema:Tuesday"}],
            "schema:opens": "10:00", "schema:closes": "12:00"});
        assert_eq!(opening_hours(&[&by_id]).0.as_deref(), Some("Mo,Tu 10:00-12:00"));
        let unknown = json!({"schema:dayOfWeek": [{"@id": "schema:Monday"}, {"@id": "schema:Someday"}],
            "schema:opens": "10:00", "schema:closes": "12:00"});
        assert_eq!(opening_hours(&[&by_id, &unknown]).0, None);
        // A specification without days (every day) is not merged into one naming days.
        let every_day = json!({"schema:opens": "10:00", "schema:closes": "12:00",
            "schema:validFrom": "2024-07-01", "schema:validThrough": "2024-08-31"});
        let (expr, _) = opening_hours(&[&spec("Saturday", "10:00", "12:00"), &every_day]);
        assert_eq!(
            expr.as_deref(),
            Some("2024 Jul 01-2024 Aug 31 Sa 10:00-12:00, 2024 Jul 01-2024 Aug 31 10:00-12:00")
        );
    }

    /// The real objects' hours, merged into fewer rules, open and close at the same moments as
    /// one rule per specification, over every year their periods cover.
    #[test]
    fn merged_rules_open_when_one_rule_per_specification_does() {
        use chrono::NaiveDate;
        let open_times = |expression: &str| {
            let hours = entities::domain::hours::parse(expression).expect("parses");
            let from = NaiveDate::from_ymd_opt(2022, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
            let to = NaiveDate::from_ymd_opt(2027, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
            let mut open: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
            for interval in hours.iter_range(from, to).filter(|i| hours.is_open(i.range.start)) {
                match open.last_mut() {
                    Some(last) if last.1 == interval.range.start => last.1 = interval.range.end,
                    _ => open.push((interval.range.start, interval.range.end)),
                }
            }
            open
        };
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/datatourisme");
        let mut compared = 0;
        for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
            let place = as_list(&v["isLocatedAt"]).into_iter().next().cloned().unwrap_or(Value::Null);
            let specs = as_list(&place["schema:openingHoursSpecification"]);
            if specs.is_empty() {
                continue;
            }
            let merged = opening_hours(&specs).0.expect("expressible");
            let separate: Vec<String> = specs.iter().map(|s| opening_hours(&[s]).0.expect("expressible")).collect();
            assert!(merged.matches(", ").count() + 1 < separate.len(), "{}: fewer rules", path.display());
            let open = open_times(&merged);
            assert!(!open.is_empty(), "{}: open at some time", path.display());
            assert_eq!(open, open_times(&separate.join(", ")), "{}", path.display());
            compared += 1;
        }
        assert_eq!(compared, 4, "the four fixture objects with opening hours");
    }

    #[test]
    fn periods_are_paris_days() {
        let p = json!({"startDate": "2025-03-05", "endDate": "2025-03-05"});
        let occ = occurrences(&[&p]);
        assert_eq!(occ[0].0.to_rfc3339(), "2025-03-04T23:00:00+00:00");
        assert_eq!(occ[0].1.to_rfc3339(), "2025-03-05T22:59:59+00:00");
        // Times come with or without seconds.
        let p =
            json!({"startDate": "2025-07-14", "endDate": "2025-07-14", "startTime": "21:30", "endTime": "23:00:00"});
        let occ = occurrences(&[&p]);
        assert_eq!(occ[0].0.to_rfc3339(), "2025-07-14T19:30:00+00:00");
        assert_eq!(occ[0].1.to_rfc3339(), "2025-07-14T21:00:00+00:00");
        // And as JSON-LD value objects or lists.
        let p = json!({"startDate": [{"@value": "2025-07-14", "@type": "xsd:date"}], "endDate": "2025-07-14",
            "startTime": {"@value": "21:30:00", "@type": "xsd:time"}, "endTime": ["23:00"]});
        assert_eq!(occurrences(&[&p]), occ);
        // A period without an end date is its start date; one without a start is no occurrence.
        let p = json!({"startDate": "2025-07-14", "startTime": "21:30"});
        let occ = occurrences(&[&p]);
        assert_eq!(occ[0].0.to_rfc3339(), "2025-07-14T19:30:00+00:00");
        assert_eq!(occ[0].1.to_rfc3339(), "2025-07-14T21:59:59+00:00");
        assert!(occurrences(&[&json!({"endDate": "2025-07-14"})]).is_empty());
    }

    #[test]
    fn coordinates_are_read_in_every_json_ld_form() {
        let object = |geo: Value| {
            json!({"@id": "https://data.datatourisme.fr/1/x", "@type": ["PlaceOfInterest"], "rdfs:label": {"fr": ["X"]},
                "isLocatedAt": [{"schema:geo": geo}]})
        };
        let point = |geo: Value| {
            map(&object(geo), &HashSet::new(), ImportOptions::default()).map(|m| (m.offer.lat, m.offer.lon)).ok()
        };
        let expected = Some((50.35, 3.42));
        assert_eq!(point(json!({"schema:latitude": "50.35", "schema:longitude": "3.42"})), expected);
        assert_eq!(point(json!([{"schema:latitude": 50.35, "schema:longitude": [3.42]}])), expected);
        assert_eq!(
            point(
                json!({"schema:latitude": {"@value": "50.35", "@type": "xsd:decimal"}, "schema:longitude": " 3.42 "})
            ),
            expected
        );
        assert_eq!(point(json!({"schema:latitude": "NaN", "schema:longitude": "3.42"})), None);
        assert_eq!(point(json!({"schema:latitude": "95", "schema:longitude": "3.42"})), None);
        assert_eq!(point(json!({"schema:latitude": {"@value": {"@value": 1}}, "schema:longitude": 3.42})), None);
        // Texts too may come as value objects, in a language map or tagged with their language.
        let mut v = object(json!({"schema:latitude": "50.35", "schema:longitude": "3.42"}));
        v["rdfs:label"] = json!({"fr": [{"@value": "Le Bassin Rond", "@language": "fr"}]});
        let m = map(&v, &HashSet::new(), ImportOptions::default()).expect("mapped");
        assert_eq!(m.offer.name.fr.as_deref(), Some("Le Bassin Rond"));
        v["rdfs:label"] =
            json!([{"@value": "Round Basin", "@language": "en"}, {"@value": "Le Bassin Rond", "@language": "fr-FR"}]);
        let m = map(&v, &HashSet::new(), ImportOptions::default()).expect("mapped");
        assert_eq!(
            (m.offer.name.fr.as_deref(), m.offer.name.en.as_deref()),
            (Some("Le Bassin Rond"), Some("Round Basin"))
        );
        // A text without a language is none of ours.
        v["rdfs:label"] = json!([{"@value": "Le Bassin Rond"}]);
        assert!(map(&v, &HashSet::new(), ImportOptions::default()).is_err());
    }

    #[test]
    fn an_object_stands_at_its_first_place_with_coordinates() {
        let v = json!({"@id": "https://data.datatourisme.fr/1/x", "@type": ["PlaceOfInterest"], "rdfs:label": {"fr": ["X"]},
        "isLocatedAt": [
            {"schema:address": [{"schema:postalCode": "59000"}]},
            {"schema:geo": {"schema:latitude": "50.35", "schema:longitude": "3.42"},
             "schema:address": [{"schema:postalCode": "59230"}]}
        ]});
        let m = map(&v, &HashSet::new(), ImportOptions::default()).expect("mapped");
        assert_eq!((m.offer.lat, m.offer.lon), (50.35, 3.42));
        assert_eq!(m.offer.address.and_then(|a| a.postal_code).as_deref(), Some("59230"));
    }

    #[test]
    fn media_kinds_come_from_the_mime_type_else_the_extension() {
        let kind = media_kind;
        assert_eq!(kind(Some("image/jpeg"), "https://x.fr/a.pdf"), MediaKind::Image);
        assert_eq!(kind(Some("video/mp4"), "https://x.fr/a"), MediaKind::Video);
        assert_eq!(kind(Some("Audio/MPEG"), "https://x.fr/a"), MediaKind::Audio);
        assert_eq!(kind(Some("application/pdf"), "https://x.fr/a"), MediaKind::Document);
        assert_eq!(kind(Some("application/gpx+xml"), "https://x.fr/trace"), MediaKind::Document);
        assert_eq!(kind(None, "https://x.fr/upload/maison--1-.png"), MediaKind::Image);
        assert_eq!(kind(None, "https://x.fr/circuit.GPX?v=2"), MediaKind::Document);
        assert_eq!(kind(Some("jpeg"), "https://x.fr/film.mp4#t=3"), MediaKind::Video);
        assert_eq!(kind(None, "https://x.fr/photo"), MediaKind::Image);
        assert_eq!(kind(None, "https://media.pdf.fr/photo"), MediaKind::Image);
    }

    #[test]
    fn objects_without_a_place_are_refused() {
        let v = json!({"@id": "https://data.datatourisme.fr/1/x", "@type": ["PlaceOfInterest"], "rdfs:label": {"fr": ["X"]}});
        assert!(map(&v, &HashSet::new(), ImportOptions::default()).is_err());
        let v = json!({"@id": "https://evil.example/x"});
        assert!(map(&v, &HashSet::new(), ImportOptions::default()).is_err());
    }

    /// The members skipped while parsing are none that `map` reads: every fixture object maps to
    /// the same offer, occurrences and media from its full parse and from its kept members.
    #[test]
    fn an_object_maps_the_same_from_its_kept_members_as_from_all_of_it() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/datatourisme");
        let territory: HashSet<String> =
            ["14258", "14764", "19010", "27229", "49328", "50523", "76159", "76655", "87204"].map(str::to_owned).into();
        let mut compared = 0;
        for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            let full: Value = serde_json::from_slice(&bytes).expect("full parse");
            let kept = Raw::new(bytes).parse().expect("kept parse").expect("an object");
            assert!(kept.to_string().len() < full.to_string().len(), "{}: nothing skipped", path.display());
            let mapped = |v: &Value| {
                let mut m = map(v, &territory, ImportOptions::default()).expect("mapped");
                m.offer.created_at = DateTime::UNIX_EPOCH;
                m.offer.updated_at = DateTime::UNIX_EPOCH;
                format!("{m:?}")
            };
            assert_eq!(mapped(&kept), mapped(&full), "{}", path.display());
            compared += 1;
        }
        assert_eq!(compared, 6, "the six fixture objects");
    }

    #[test]
    fn files_are_read_where_they_are_parsed_and_within_the_limit() {
        let dir = std::env::temp_dir().join(format!("caph-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        std::fs::write(dir.join("a.json"), br#"{"@id": "https://data.datatourisme.fr/1"}"#).expect("written");
        let big = usize::try_from(MAX_ENTRY_BYTES).expect("a size") + 1;
        std::fs::write(dir.join("b.json"), vec![b' '; big]).expect("written");
        let read: Vec<(String, Result<Raw, ImportError>)> =
            read_objects(std::slice::from_ref(&dir)).map(|(name, raw)| (name, raw.and_then(Raw::read))).collect();
        std::fs::remove_dir_all(&dir).expect("removed");
        assert_eq!(read.len(), 2);
        let v = read[0].1.as_ref().expect("read").parse().expect("parsed").expect("an object");
        assert_eq!(v["@id"], "https://data.datatourisme.fr/1");
        match &read[1].1 {
            Err(ImportError::TooLarge(why)) => assert!(why.contains("more than"), "{why}"),
            other => panic!("{}: {other:?}", read[1].0),
        }
    }

    #[test]
    fn a_digest_covers_the_bytes_the_territory_and_the_options() {
        let territory: HashSet<String> = ["59009", "59017"].map(str::to_owned).into();
        let digests = Digests::none(&territory, ImportOptions::default());
        let object = br#"{"@id": "https://data.datatourisme.fr/1"}"#;
        assert_eq!(digests.of(object), digests.of(object));
        assert_ne!(digests.of(object), digests.of(br#"{"@id":"https://data.datatourisme.fr/1"}"#));
        let other_territories = [
            ["59009"].map(str::to_owned).into(),
            ["59009", "59017", "59526"].map(str::to_owned).into(),
            // Not the same communes joined differently.
            ["590", "0959017"].map(str::to_owned).into(),
        ];
        for other in other_territories {
            assert_ne!(Digests::none(&other, ImportOptions::default()).of(object), digests.of(object), "{other:?}");
        }
        let draft = ImportOptions { status: OfferStatus::Draft };
        assert_ne!(Digests::none(&territory, draft).of(object), digests.of(object));
        assert!(!digests.known(&digests.of(object)));
    }

    #[test]
    fn objects_mapped_on_every_core_come_out_in_their_order_and_as_mapped_alone() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/datatourisme");
        let territory: HashSet<String> = ["59009", "59017", "59526"].map(str::to_owned).into();
        // Seven times the six objects (of 150 to 700 kB): several chunks, uneven work.
        let paths = vec![fixtures; 7];
        let describe = |name: String, mapped: Result<Option<Mapped>, ImportError>| match mapped {
            Ok(m) => format!("{name} {:?}", m.map(|m| (m.offer.source_id, m.offer.kind, m.occurrences.len()))),
            Err(e) => format!("{name} {e}"),
        };
        let alone: Vec<String> = read_objects(&paths)
            .map(|(name, raw)| {
                let mapped = raw
                    .and_then(|raw| raw.parse())
                    .and_then(|v| v.map(|v| map(&v, &territory, ImportOptions::default())).transpose());
                describe(name, mapped)
            })
            .collect();
        assert_eq!(alone.len(), 42);
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let digests = Digests::none(&territory, ImportOptions::default());
        let reader = std::thread::spawn(move || {
            map_everywhere(read_objects(&paths), &territory, ImportOptions::default(), &digests, &tx);
        });
        let mut together = Vec::new();
        while let Some((name, met)) = rx.blocking_recv() {
            let mapped = met.map(|met| match met {
                Met::Mapped(m) => {
                    assert!(m.digest.is_some(), "{name}: no digest");
                    Some(Mapped { digest: None, ..*m })
                }
                Met::Aside => None,
                Met::Known => panic!("{name}: known with no digest known"),
            });
            together.push(describe(name, mapped));
        }
        reader.join().expect("the reader");
        assert_eq!(together, alone);
    }
}
