//! The DATAtourisme importer: JSON-LD objects of a flux export (files, folders, or the zip of an
//! export) mapped to offers. Each object is read, checked and written in a transaction of its own,
//! so one bad object is reported and skipped without leaving anything half-written; importing the
//! same objects again changes nothing, and a newer `lastUpdate` updates the offer.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use entities::prelude::*;
use entities::{event_occurrence, media, offer};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde_json::{Map, Value, json};

use crate::load::{bump_catalog_version, offer_id};
use crate::slug::slugify;

/// The source name of imported records.
pub const SOURCE: &str = "datatourisme";
const LICENCE: &str = "Licence Ouverte / Etalab 2.0";
const LANGS: [&str; 4] = ["fr", "en", "nl", "de"];

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
    /// Something the offer needs is missing or wrong.
    #[error("{0}")]
    Invalid(String),
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
    /// Objects refused, with their name and the reason.
    pub rejected: Vec<(String, String)>,
}

/// Reads the JSON objects of files, folders (recursively) and zip archives.
pub fn read_objects(paths: &[PathBuf]) -> Vec<(String, Result<Value, ImportError>)> {
    let mut out = Vec::new();
    for path in paths {
        collect(path, &mut out);
    }
    out
}

fn collect(path: &Path, out: &mut Vec<(String, Result<Value, ImportError>)>) {
    let name = path.display().to_string();
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => return out.push((name, Err(e.into()))),
        };
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "json" || x == "zip") {
                collect(&e, out);
            }
        }
    } else if path.extension().is_some_and(|x| x == "zip") {
        if let Err(e) = read_zip(path, out) {
            out.push((name, Err(e)));
        }
    } else {
        let parsed = std::fs::read(path).map_err(ImportError::from).and_then(|b| Ok(serde_json::from_slice(&b)?));
        out.push((name, parsed));
    }
}

fn read_zip(path: &Path, out: &mut Vec<(String, Result<Value, ImportError>)>) -> Result<(), ImportError> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let inner = file.name()?.to_string();
        if !inner.ends_with(".json") || file.is_dir() {
            continue;
        }
        let name = format!("{}:{inner}", path.display());
        let mut bytes = Vec::new();
        let parsed: Result<Value, ImportError> =
            file.read_to_end(&mut bytes).map_err(ImportError::from).and_then(|_| Ok(serde_json::from_slice(&bytes)?));
        // A flux export also holds an index of the objects: skip what is not an object.
        if matches!(&parsed, Ok(v) if v.get("@id").is_none()) {
            continue;
        }
        out.push((name, parsed));
    }
    Ok(())
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

fn first_str(v: &Value) -> Option<String> {
    as_list(v).into_iter().find_map(|x| x.as_str()).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `{"fr": ["…"], "en": "…"}` → `{"fr": "…", "en": "…"}`, our four languages only.
fn texts(v: &Value) -> Option<Value> {
    let Value::Object(o) = v else { return None };
    let mut m = Map::new();
    for lang in LANGS {
        if let Some(t) = o.get(lang).and_then(first_str) {
            m.insert(lang.to_owned(), json!(t));
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

fn kind_of(types: &[String]) -> &'static str {
    let has = |t: &str| types.iter().any(|x| x == t || x.strip_prefix("schema:") == Some(t));
    if has("EntertainmentAndEvent") || has("Event") {
        "event"
    } else if has("Accommodation") || has("LodgingBusiness") {
        "accommodation"
    } else if has("FoodEstablishment") || has("Restaurant") {
        "restaurant"
    } else if has("Tour") {
        "route"
    } else if has("ActivityProvider") {
        "activity"
    } else {
        "site"
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

fn osm_date(s: &str) -> Option<String> {
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    Some(date.format("%Y %b %d").to_string())
}

/// A time of day as the flux writes it: `14:30:00`, sometimes `14:30`.
fn time_of_day(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(s, "%H:%M")).ok()
}

fn osm_time(s: &str) -> Option<String> {
    Some(time_of_day(s)?.format("%H:%M").to_string())
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

/// `openingHoursSpecification` → an OpenStreetMap expression (rules joined with `,` so they add
/// up, each with its validity dates) when every part can be said so, plus the remarks as text.
fn opening_hours(specs: &[&Value]) -> (Option<String>, Option<String>) {
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut expressible = true;
    for s in specs {
        if let Some(note) = s.get("additionalInformation").and_then(|a| a.get("fr")).and_then(first_str)
            && !notes.contains(&note)
        {
            notes.push(note);
        }
        let days: Vec<&str> = as_list(&s["schema:dayOfWeek"])
            .iter()
            .filter_map(|d| d.get("@id").and_then(Value::as_str))
            .filter_map(day_code)
            .collect();
        let field = |k: &str| s.get(k).and_then(Value::as_str);
        let dates = range(field("schema:validFrom"), field("schema:validThrough"), osm_date, &mut expressible)
            .map(|(f, t)| format!("{f}-{t}"));
        let times = range(field("schema:opens"), field("schema:closes"), osm_time, &mut expressible)
            .map(|(o, c)| format!("{o}-{}", if c == "00:00" { "24:00".to_owned() } else { c }));
        let mut rule: Vec<String> = Vec::new();
        rule.extend(dates);
        if !days.is_empty() {
            rule.push(days.join(","));
        }
        rule.extend(times);
        if rule.is_empty() {
            expressible = false;
        } else {
            rules.push(rule.join(" "));
        }
    }
    rules.dedup();
    let expression = (expressible && !rules.is_empty()).then(|| rules.join(", "));
    let expression = expression.filter(|e| crate::hours::parse(e).is_ok());
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

/// `takesPlaceAt` periods → occurrences (Europe/Paris dates; a day without times is the whole day).
fn occurrences(periods: &[&Value]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for p in periods {
        let (Some(s), Some(e)) = (p.get("startDate").and_then(Value::as_str), p.get("endDate").and_then(Value::as_str))
        else {
            continue;
        };
        let (Ok(sd), Ok(ed)) = (NaiveDate::parse_from_str(s, "%Y-%m-%d"), NaiveDate::parse_from_str(e, "%Y-%m-%d"))
        else {
            continue;
        };
        let st = p.get("startTime").and_then(Value::as_str).and_then(time_of_day).unwrap_or(NaiveTime::MIN);
        let et = p
            .get("endTime")
            .and_then(Value::as_str)
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

fn media_items(v: &Value) -> Vec<Value> {
    let mut items = Vec::new();
    for key in ["hasMainRepresentation", "hasRepresentation"] {
        for rep in as_list(&v[key]) {
            let annotation = as_list(&rep["ebucore:hasAnnotation"]).into_iter().next().cloned().unwrap_or(Value::Null);
            for res in as_list(&rep["ebucore:hasRelatedResource"]) {
                let Some(url) = first_str(&res["ebucore:locator"]) else { continue };
                let mime = as_list(&res["ebucore:hasMimeType"])
                    .into_iter()
                    .find_map(|m| m.get("rdfs:label").and_then(|l| l.get("en")).and_then(first_str));
                let kind = match mime.as_deref() {
                    Some(m) if m.starts_with("video/") => "video",
                    Some(m) if m.starts_with("audio/") => "audio",
                    Some("application/pdf") => "document",
                    _ => "image",
                };
                items.push(json!({
                    "url": url,
                    "kind": kind,
                    "mime": mime,
                    "title": texts(&annotation["ebucore:title"]),
                    "licence": first_str(&annotation["ebucore:isCoveredBy"]),
                    "credit": first_str(&annotation["credits"]),
                }));
            }
        }
    }
    let mut seen = HashSet::new();
    items.retain(|m| seen.insert(m["url"].as_str().unwrap_or("").to_owned()));
    items
}

fn prices(v: &Value) -> Option<Value> {
    let mut out = Vec::new();
    for offer in as_list(&v["offers"]) {
        for spec in as_list(&offer["schema:priceSpecification"]) {
            let label = as_list(&spec["hasEligiblePolicy"])
                .into_iter()
                .find_map(|p| p.get("rdfs:label").and_then(|l| l.get("fr")).and_then(first_str));
            let num = |k: &str| first_str(&spec[k]).and_then(|s| s.replace(',', ".").parse::<f64>().ok());
            let (min, max) = (num("schema:minPrice"), num("schema:maxPrice"));
            if min.is_none() && max.is_none() {
                continue;
            }
            out.push(json!({
                "label": label,
                "minPrice": min,
                "maxPrice": max,
                "currency": spec.get("schema:priceCurrency").and_then(Value::as_str).unwrap_or("EUR"),
            }));
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

fn labels(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = as_list(&v["hasReview"])
        .into_iter()
        .filter_map(|r| r.get("hasReviewValue"))
        .filter_map(|rv| rv.get("rdfs:label").and_then(|l| l.get("fr")).and_then(first_str))
        .map(|l| slugify(&l))
        .filter(|l| !l.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An object mapped to an offer, with what hangs off it.
#[derive(Debug)]
pub struct Mapped {
    /// The offer row (id, version and times are settled on write).
    pub offer: offer::Model,
    /// Occurrences.
    pub occurrences: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Media (`url`, `kind`, `mime`, `title`, `licence`, `credit`).
    pub media: Vec<Value>,
}

/// Maps a DATAtourisme object; `territory` holds the INSEE codes of the territory's communes.
pub fn map(v: &Value, territory: &HashSet<String>) -> Result<Mapped, ImportError> {
    let uri = v.get("@id").and_then(Value::as_str).ok_or_else(|| ImportError::Invalid("no @id".into()))?;
    if !uri.starts_with("https://data.datatourisme.fr/") {
        return Err(ImportError::Invalid(format!("{uri} is not a DATAtourisme object")));
    }
    let types: Vec<String> = as_list(&v["@type"]).iter().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    let name =
        texts(&v["rdfs:label"]).ok_or_else(|| ImportError::Invalid("no rdfs:label in fr, en, nl or de".into()))?;
    let mut name = name;
    if name.get("fr").is_none() {
        return Err(ImportError::Invalid("no French label".into()));
    }
    if let Value::Object(m) = &mut name {
        for t in m.values_mut() {
            if let Some(s) = t.as_str() {
                *t = json!(s.chars().take(200).collect::<String>());
            }
        }
    }
    let place =
        as_list(&v["isLocatedAt"]).into_iter().next().ok_or_else(|| ImportError::Invalid("no isLocatedAt".into()))?;
    let geo = &place["schema:geo"];
    let coord =
        |k: &str| geo.get(k).and_then(|x| x.as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| x.as_f64()));
    let (lat, lon) = match (coord("schema:latitude"), coord("schema:longitude")) {
        (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => (lat, lon),
        _ => return Err(ImportError::Invalid("no valid schema:geo latitude and longitude".into())),
    };
    let address = as_list(&place["schema:address"]).into_iter().next();
    let insee = address.and_then(|a| a["hasAddressCity"].get("insee")).and_then(Value::as_str).map(str::to_owned);
    let address_json = address.map(|a| {
        json!({
            "street": as_list(&a["schema:streetAddress"]).iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            "postalCode": a.get("schema:postalCode").and_then(Value::as_str),
            "locality": a.get("schema:addressLocality").and_then(Value::as_str),
            "inseeCode": insee,
        })
    });
    let in_territory = insee.as_ref().is_some_and(|c| territory.contains(c));
    let description = as_list(&v["hasDescription"]).into_iter().next();
    let short = description.and_then(|d| texts(&d["shortDescription"])).or_else(|| texts(&v["rdfs:comment"]));
    let long = description.and_then(|d| texts(&d["dc:description"]));
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    let mut websites = Vec::new();
    for c in as_list(&v["hasContact"]) {
        phones.extend(as_list(&c["schema:telephone"]).iter().filter_map(|x| x.as_str().map(str::to_owned)));
        emails.extend(as_list(&c["schema:email"]).iter().filter_map(|x| x.as_str().map(str::to_owned)));
        websites.extend(as_list(&c["foaf:homepage"]).iter().filter_map(|x| x.as_str().map(str::to_owned)));
    }
    let specs = as_list(&place["schema:openingHoursSpecification"]);
    let (hours, hours_text) = opening_hours(&specs);
    let updated = v
        .get("lastUpdateDatatourisme")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            v.get("lastUpdate")
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .and_then(|d| paris(d, NaiveTime::MIN))
        });
    let publisher = as_list(&v["hasBeenPublishedBy"])
        .into_iter()
        .next()
        .and_then(|p| p.get("schema:legalName"))
        .and_then(Value::as_str);
    let attribution = match publisher {
        Some(p) => format!("DATAtourisme, {p}"),
        None => "DATAtourisme".to_owned(),
    };
    let mut classes: Vec<String> = types.iter().map(|t| t.trim_start_matches("schema:").to_owned()).collect();
    classes.dedup();
    let capacity = v
        .get("allowedPersons")
        .and_then(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.parse().ok())))
        .map(|p| json!({ "people": p }));
    let accessibility = v
        .get("reducedMobilityAccess")
        .and_then(Value::as_bool)
        .map(|b| json!({ "wheelchair": if b { "yes" } else { "no" }, "tourismeHandicap": [] }));
    let id = offer_id(SOURCE, uri);
    let now = Utc::now();
    let offer = offer::Model {
        slug: slugify(name["fr"].as_str().unwrap_or("")),
        kind: kind_of(&types).to_owned(),
        classes: json!(classes),
        is_totem: false,
        name,
        short_description: short,
        description: long,
        lon,
        lat,
        geo_precision: "exact".into(),
        geometry: None,
        min_lon: lon,
        min_lat: lat,
        max_lon: lon,
        max_lat: lat,
        commune_insee: if in_territory { insee.clone() } else { None },
        in_territory,
        address: address_json,
        contacts: Some(json!({ "phones": phones, "emails": emails, "websites": websites })),
        opening_hours: hours,
        opening_hours_text: hours_text,
        prices: prices(v),
        accessibility,
        labels: json!(labels(v)),
        capacity,
        source: SOURCE.into(),
        source_id: uri.to_owned(),
        source_licence: LICENCE.into(),
        source_attribution: attribution,
        source_url: Some(uri.to_owned()),
        source_updated_at: updated,
        owner: None,
        status: "published".into(),
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        catalog_version: 0,
        id,
    };
    Ok(Mapped { offer, occurrences: occurrences(&as_list(&v["takesPlaceAt"])), media: media_items(v) })
}

/// What happened to one object.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new offer.
    Created,
    /// A newer version replaced the offer.
    Updated,
    /// Already there at that `lastUpdate`.
    Unchanged,
}

/// Writes one mapped object in its own transaction.
pub async fn write(db: &DatabaseConnection, m: Mapped) -> Result<Outcome, ImportError> {
    let txn = db.begin().await?;
    let current = Offer::find()
        .filter(offer::Column::Source.eq(SOURCE))
        .filter(offer::Column::SourceId.eq(m.offer.source_id.as_str()))
        .one(&txn)
        .await?;
    let mut o = m.offer;
    let outcome = match &current {
        Some(c) if c.source_updated_at.is_some() && c.source_updated_at >= o.source_updated_at => {
            return Ok(Outcome::Unchanged);
        }
        Some(c) => {
            o.id = c.id.clone();
            o.slug = c.slug.clone();
            o.version = c.version + 1;
            o.created_at = c.created_at;
            o.status = c.status.clone();
            o.deleted_at = c.deleted_at;
            Outcome::Updated
        }
        None => {
            // A slug already taken gets the start of the id.
            if Offer::find().filter(offer::Column::Slug.eq(o.slug.as_str())).one(&txn).await?.is_some()
                || o.slug.is_empty()
            {
                o.slug = format!("{}-{}", o.slug, &o.id[..8]).trim_start_matches('-').to_owned();
            }
            Outcome::Created
        }
    };
    let version = bump_catalog_version(&txn).await?;
    o.catalog_version = version;
    match &current {
        Some(c) => {
            crate::load::record_revision(&txn, &o, "import", Some(c))
                .await
                .map_err(|e| ImportError::Invalid(e.to_string()))?;
            o.clone().into_active_model().reset_all().update(&txn).await?;
            EventOccurrence::delete_many()
                .filter(event_occurrence::Column::OfferId.eq(o.id.as_str()))
                .exec(&txn)
                .await?;
            Media::delete_many().filter(media::Column::OfferId.eq(o.id.as_str())).exec(&txn).await?;
        }
        None => {
            o.clone().into_active_model().insert(&txn).await?;
            crate::load::record_revision(&txn, &o, "import", None)
                .await
                .map_err(|e| ImportError::Invalid(e.to_string()))?;
        }
    }
    for (start, end) in m.occurrences {
        event_occurrence::ActiveModel {
            offer_id: Set(o.id.clone()),
            starts_at: Set(start),
            ends_at: Set(end),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    for (i, item) in m.media.iter().enumerate() {
        media::ActiveModel {
            id: Set(uuid::Uuid::new_v5(&crate::load::OFFER_NAMESPACE, format!("{}|{}", o.id, item["url"]).as_bytes())
                .to_string()),
            offer_id: Set(o.id.clone()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX) + 1),
            kind: Set(item["kind"].as_str().unwrap_or("image").to_owned()),
            url: Set(item["url"].as_str().unwrap_or_default().to_owned()),
            title: Set(item.get("title").filter(|t| !t.is_null()).cloned()),
            licence: Set(item["licence"].as_str().map(str::to_owned)),
            credit: Set(item["credit"].as_str().map(str::to_owned)),
            mime_type: Set(item["mime"].as_str().map(str::to_owned)),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// Imports every object under `paths`, with a progress bar on a terminal.
pub async fn import(db: &DatabaseConnection, paths: &[PathBuf]) -> Result<ImportReport, ImportError> {
    let territory: HashSet<String> = Commune::find().all(db).await?.into_iter().map(|c| c.insee).collect();
    let objects = read_objects(paths);
    let bar = indicatif::ProgressBar::new(objects.len() as u64);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut report = ImportReport::default();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for (name, parsed) in objects {
        bar.set_message(name.clone());
        let result = match parsed {
            Ok(v) => match map(&v, &territory) {
                Ok(m) if seen.insert(m.offer.source_id.clone(), ()).is_some() => Ok(Outcome::Unchanged),
                Ok(m) => write(db, m).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(Outcome::Created) => report.created += 1,
            Ok(Outcome::Updated) => report.updated += 1,
            Ok(Outcome::Unchanged) => report.unchanged += 1,
            Err(e) => report.rejected.push((name, e.to_string())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn objects_without_a_place_are_refused() {
        let v = json!({"@id": "https://data.datatourisme.fr/1/x", "@type": ["PlaceOfInterest"], "rdfs:label": {"fr": ["X"]}});
        assert!(map(&v, &HashSet::new()).is_err());
        let v = json!({"@id": "https://evil.example/x"});
        assert!(map(&v, &HashSet::new()).is_err());
    }
}
