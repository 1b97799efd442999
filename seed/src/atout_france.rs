//! Atout France's register of classified tourist accommodation ("Liste des hébergements
//! touristiques classés", Licence Ouverte 2.0) → accommodation offers of the territory.
//!
//! The register is read as published: the whole national file, `;`-separated UTF-8 with its own
//! column names. Rows are kept when their commune is one of the territory's, matched by name and
//! postcode with accents, case and punctuation ignored; rows with a territory postcode but another
//! commune are reported as unmatched. The register gives no coordinates: a new offer stands at a
//! point of its commune with `geoPrecision: COMMUNE` until an editor moves it.
//!
//! The register is authoritative for the classification, the capacity, the type and the
//! provenance; everything else (position, texts, address, contacts, themes, status) belongs to the
//! offer once created, so an editor's corrections survive a re-import. An offer's key is its
//! commune, type and trade name. A register is dated by its newest decision: an older register
//! than the one an offer was last seen in changes nothing, and an establishment missing from a
//! register as new as or newer than that loses its classification (never its offer), with a
//! revision saying so.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use entities::domain::ids::offer_id;
use entities::domain::slug::slugify;
use entities::domain::text::tokens;
use entities::offer;
use entities::prelude::{Commune, Offer};
use entities::values::{Address, Capacity, Classification, Codes, Contacts, Texts};
use entities::vocab::{
    AccommodationType, CampsiteCategory, GeoPrecision, OfferKind, OfferStatus, RevisionAction, StayFormula,
    VillageMention,
};
use entities::write::{SlugRule, WriteError, Writer, check_offer};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// The source name of the offers.
pub const SOURCE: &str = "atout-france";
/// The register's licence.
pub const LICENCE: &str = "Licence Ouverte / Etalab 2.0";
/// The attribution the register asks for.
pub const ATTRIBUTION: &str = "Atout France — hébergements touristiques classés, Licence Ouverte 2.0";
/// The register's rows of the territory, as published in its edition of 22 April 2026 (the
/// default data: see `seed/data/README.md`).
pub const TERRITORY_ROWS: &str = include_str!("../data/atout-france-caph.csv");

/// The columns read, by their names in the file.
mod col {
    pub const DATE: &str = "DATE DE CLASSEMENT";
    pub const TYPOLOGY: &str = "TYPOLOGIE ÉTABLISSEMENT";
    pub const CLASS: &str = "CLASSEMENT";
    pub const CATEGORY: &str = "CATÉGORIE";
    pub const MENTION: &str = "MENTION (villages de vacances)";
    pub const NAME: &str = "NOM COMMERCIAL";
    pub const ADDRESS: &str = "ADRESSE";
    pub const POSTCODE: &str = "CODE POSTAL";
    pub const COMMUNE: &str = "COMMUNE";
    pub const WEBSITE: &str = "SITE INTERNET";
    pub const STAY: &str = "TYPE DE SÉJOUR";
    pub const PEOPLE: &str = "CAPACITÉ D'ACCUEIL (PERSONNES)";
    pub const ROOMS: &str = "NOMBRE DE CHAMBRES";
    pub const PITCHES: &str = "NOMBRE D'EMPLACEMENTS";
    pub const UNITS: &str = "NOMBRE D'UNITES D'HABITATION (résidences de tourisme)";
    pub const HOMES: &str = "NOMBRE DE LOGEMENTS (villages de vacances)";
    pub const EXTENDED: &str = "classement prorogé";
    pub const ALL: [&str; 17] = [
        DATE, TYPOLOGY, CLASS, CATEGORY, MENTION, NAME, ADDRESS, POSTCODE, COMMUNE, WEBSITE, STAY, PEOPLE, ROOMS,
        PITCHES, UNITS, HOMES, EXTENDED,
    ];
}

/// Why a register could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not the register (a column is missing, a line is broken).
    #[error("not Atout France's register: {0}")]
    Format(String),
    /// The database refused a statement.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The write path refused the unit.
    #[error("{0}")]
    Write(#[from] WriteError),
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegisterReport {
    /// Rows read.
    pub read: usize,
    /// Rows of the territory's communes.
    pub in_territory: usize,
    /// New offers.
    pub created: usize,
    /// Offers whose classification, capacity or type changed.
    pub updated: usize,
    /// Offers already as the register says (or last seen in a newer register).
    pub unchanged: usize,
    /// Offers that lost their classification: missing from this register.
    pub declassified: usize,
    /// Rows with a postcode of the territory whose commune is none of the territory's:
    /// `name (postcode COMMUNE)`.
    pub unmatched: Vec<String>,
    /// Rows of the territory refused, with the reason.
    pub rejected: Vec<(String, String)>,
}

/// One row of the register.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    fields: HashMap<&'static str, String>,
}

impl Row {
    fn get(&self, column: &str) -> Option<&str> {
        self.fields.get(column).map(|v| v.trim()).filter(|v| !v.is_empty() && *v != "-")
    }

    fn count(&self, column: &str) -> Result<Option<i32>, String> {
        self.get(column).map(|v| v.parse::<i32>().map_err(|_| format!("{column}: {v:?} is not a number"))).transpose()
    }

    fn name(&self) -> String {
        format!("line {} {:?}", self.line, self.get(col::NAME).unwrap_or(""))
    }
}

/// A commune of the territory, for matching.
struct Place {
    insee: String,
    name: String,
    postcodes: Vec<String>,
    point: (f64, f64),
}

/// Folds a commune name for matching: `SAINT-AMAND-LES-EAUX` and `Saint-Amand-les-Eaux` agree,
/// and so do `FLINES-LÈS-MORTAGNE` and `Flines-lès-Mortagne`.
fn fold(name: &str) -> String {
    tokens(name).join(" ")
}

/// Where each column read is among `headers`, found by name with case, accents, punctuation and
/// a byte-order mark ignored (editions of the register have written `CATEGORIE` for `CATÉGORIE`
/// and changed case); a column missing refuses the file, naming it.
fn columns<'a>(headers: impl Iterator<Item = &'a str>) -> Result<HashMap<&'static str, usize>, RegisterError> {
    let folded: Vec<String> = headers.map(fold).collect();
    let position: HashMap<&'static str, usize> = col::ALL
        .iter()
        .filter_map(|c| {
            let name = fold(c);
            folded.iter().position(|h| *h == name).map(|i| (*c, i))
        })
        .collect();
    let missing: Vec<&str> = col::ALL.iter().filter(|c| !position.contains_key(*c)).copied().collect();
    if !missing.is_empty() {
        return Err(RegisterError::Format(format!("missing columns {missing:?}")));
    }
    Ok(position)
}

/// The territory's communes by folded name.
async fn places(db: &DatabaseConnection) -> Result<HashMap<String, Place>, RegisterError> {
    Ok(Commune::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            (fold(&c.name), Place { insee: c.insee, name: c.name, postcodes: c.postcodes.0, point: (c.lon, c.lat) })
        })
        .collect())
}

/// Reads the rows of the territory (and counts the others), checking the columns first.
fn read_rows(
    reader: impl Read,
    places: &HashMap<String, Place>,
    report: &mut RegisterReport,
) -> Result<Vec<(Row, String)>, RegisterError> {
    let mut csv = csv::ReaderBuilder::new().delimiter(b';').flexible(false).from_reader(reader);
    let headers = csv.headers().map_err(|e| RegisterError::Format(e.to_string()))?.clone();
    let position = columns(headers.iter())?;
    let postcodes: HashSet<&str> = places.values().flat_map(|p| p.postcodes.iter().map(String::as_str)).collect();
    let mut progress = crate::progress::bar(0, "register rows");
    let mut out = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|e| RegisterError::Format(e.to_string()))?;
        report.read += 1;
        progress.inc(1);
        let line = record.position().map_or(0, csv::Position::line);
        let fields = position.iter().map(|(c, i)| (*c, record.get(*i).unwrap_or("").to_owned())).collect();
        let row = Row { line, fields };
        let postcode = row.get(col::POSTCODE).unwrap_or("");
        if !postcodes.contains(postcode) {
            continue;
        }
        let commune = fold(row.get(col::COMMUNE).unwrap_or(""));
        match places.get(&commune).filter(|p| p.postcodes.iter().any(|c| c == postcode)) {
            Some(place) => {
                report.in_territory += 1;
                out.push((row, place.insee.clone()));
            }
            None => report.unmatched.push(format!(
                "{} ({postcode} {})",
                row.get(col::NAME).unwrap_or("?"),
                row.get(col::COMMUNE).unwrap_or("?")
            )),
        }
    }
    progress.finish_and_clear();
    Ok(out)
}

fn typology(text: &str) -> Option<AccommodationType> {
    Some(match fold(text).as_str() {
        "hotel de tourisme" => AccommodationType::Hotel,
        "camping" => AccommodationType::Campsite,
        "residence de tourisme" => AccommodationType::TouristResidence,
        "village de vacances" => AccommodationType::HolidayVillage,
        "parc residentiel de loisirs" => AccommodationType::ResidentialLeisurePark,
        "auberge collective" => AccommodationType::CollectiveHostel,
        _ => return None,
    })
}

/// DATAtourisme classes of a type of establishment.
fn classes(t: AccommodationType) -> Vec<String> {
    let specific: &[&str] = match t {
        AccommodationType::Hotel => &["Hotel", "HotelTrade"],
        AccommodationType::Campsite => &["CampingAndCaravanning", "Camping"],
        AccommodationType::TouristResidence => &["SelfCateringAccommodation"],
        AccommodationType::HolidayVillage => &["HolidayResort"],
        AccommodationType::ResidentialLeisurePark => &["ResidentialLeisurePark"],
        AccommodationType::CollectiveHostel => &["CollectiveAccommodation"],
    };
    std::iter::once("Accommodation").chain(specific.iter().copied()).map(str::to_owned).collect()
}

/// The classification a row states.
fn classification(row: &Row) -> Result<Classification, String> {
    let text = row.get(col::TYPOLOGY).ok_or("no type of establishment")?;
    let typology = typology(text).ok_or_else(|| format!("unknown type of establishment {text:?}"))?;
    let label = row.get(col::CLASS).ok_or("no class")?.to_owned();
    let stars = match label.split_whitespace().collect::<Vec<_>>()[..] {
        [n, unit] if fold(unit).starts_with("etoile") => {
            Some(n.parse::<i32>().map_err(|_| format!("{}: {label:?}", col::CLASS))?)
        }
        _ => None,
    };
    let date = row.get(col::DATE).ok_or("no date of classification")?;
    let classified_on = NaiveDate::parse_from_str(date, "%d/%m/%Y")
        .map_err(|_| format!("{}: {date:?} is not a date (DD/MM/YYYY)", col::DATE))?;
    let category = match row.get(col::CATEGORY).map(fold).as_deref() {
        None => None,
        Some("tourisme") => Some(CampsiteCategory::Tourism),
        Some("loisirs") => Some(CampsiteCategory::Leisure),
        Some(other) => return Err(format!("{}: unknown {other:?}", col::CATEGORY)),
    };
    // Codes as the register writes them (`HEBERGEMENT_LEGER`), case and accents ignored.
    let mention = match row.get(col::MENTION).map(fold).as_deref() {
        None => None,
        Some("non") => Some(VillageMention::None),
        Some("hebergement disperse") => Some(VillageMention::Dispersed),
        Some("hebergement leger") => Some(VillageMention::Light),
        Some("hebergement leger et disperse") => Some(VillageMention::LightAndDispersed),
        Some(other) => return Err(format!("{}: unknown {other:?}", col::MENTION)),
    };
    let stay = match row.get(col::STAY).map(fold).as_deref() {
        None => None,
        Some("formule pension") => Some(StayFormula::Board),
        Some("formule location pension") => Some(StayFormula::RentalAndBoard),
        Some("formule location") => Some(StayFormula::Rental),
        Some(other) => return Err(format!("{}: unknown {other:?}", col::STAY)),
    };
    let extended = row.get(col::EXTENDED).is_some_and(|v| fold(v) == "oui");
    Ok(Classification { typology, stars, label, category, mention, stay, classified_on, extended })
}

fn capacity(row: &Row) -> Result<Option<Capacity>, String> {
    let units = match (row.count(col::UNITS)?, row.count(col::HOMES)?) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    let c = Capacity {
        beds: None,
        rooms: row.count(col::ROOMS)?,
        units,
        people: row.count(col::PEOPLE)?,
        pitches: row.count(col::PITCHES)?,
    };
    Ok((!c.is_empty()).then_some(c))
}

/// A register's edition: the date of its newest decision, as the offers' `sourceUpdatedAt`.
fn edition(rows: &[(Row, String)]) -> Option<DateTime<Utc>> {
    rows.iter()
        .filter_map(|(r, _)| r.get(col::DATE).and_then(|d| NaiveDate::parse_from_str(d, "%d/%m/%Y").ok()))
        .max()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The offer a row makes, over `current` when there is one (keeping what the offer owns).
fn wanted(
    row: &Row,
    insee: &str,
    place: &Place,
    edition: DateTime<Utc>,
    status: OfferStatus,
    current: Option<&offer::Model>,
) -> Result<offer::Model, String> {
    let c = classification(row)?;
    let name = row.get(col::NAME).ok_or("no trade name")?;
    let key = format!("{insee}:{}:{}", c.typology.code(), slugify(name));
    let capacity = capacity(row)?;
    let register_owned = |mut o: offer::Model| {
        o.kind = OfferKind::Accommodation;
        o.classes = Codes(classes(c.typology));
        o.capacity = capacity.clone();
        o.classification = Some(c.clone());
        o.source_licence = LICENCE.to_owned();
        o.source_attribution = ATTRIBUTION.to_owned();
        o.source_updated_at = Some(edition);
        o
    };
    if let Some(current) = current {
        return Ok(register_owned(current.clone()));
    }
    let website = row.get(col::WEBSITE).map(|w| if w.contains("://") { w.to_owned() } else { format!("https://{w}") });
    let now = Utc::now();
    let (lon, lat) = place.point;
    Ok(register_owned(offer::Model {
        id: offer_id(SOURCE, &key),
        slug: String::new(),
        kind: OfferKind::Accommodation,
        classes: Codes::default(),
        is_totem: false,
        name: Texts::fr(name),
        short_description: None,
        description: None,
        lon,
        lat,
        geo_precision: GeoPrecision::Commune,
        geometry: None,
        min_lon: lon,
        min_lat: lat,
        max_lon: lon,
        max_lat: lat,
        commune_insee: Some(insee.to_owned()),
        in_territory: true,
        address: Some(Address {
            street: row.get(col::ADDRESS).map(str::to_owned),
            postal_code: row.get(col::POSTCODE).map(str::to_owned),
            locality: Some(place.name.clone()),
            insee_code: Some(insee.to_owned()),
        }),
        contacts: website.map(|w| Contacts { websites: vec![w], ..Default::default() }),
        opening_hours: None,
        opening_hours_text: None,
        prices: None,
        accessibility: None,
        labels: Codes::default(),
        capacity: None,
        source: SOURCE.to_owned(),
        source_id: key,
        source_licence: String::new(),
        source_attribution: String::new(),
        source_url: None,
        source_updated_at: None,
        owner: None,
        status,
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        catalog_version: 0,
        published_once: false,
        classification: None,
    }))
}

/// The register-owned fields of an offer, to tell whether a row changes it (the edition it was
/// last seen in moves only with them, so a new edition that changes nothing writes nothing).
fn register_view(o: &offer::Model) -> impl PartialEq + '_ {
    (o.kind, &o.classes, &o.capacity, &o.classification, &o.source_licence, &o.source_attribution)
}

/// Imports a register (the national file, or any part of it) into the territory's offers in one
/// unit of work; new offers get `status`.
pub async fn import(
    db: &DatabaseConnection,
    reader: impl Read,
    status: OfferStatus,
) -> Result<RegisterReport, RegisterError> {
    let mut report = RegisterReport::default();
    let places = places(db).await?;
    let by_insee: HashMap<&str, &Place> = places.values().map(|p| (p.insee.as_str(), p)).collect();
    let rows = read_rows(reader, &places, &mut report)?;
    let Some(edition) = edition(&rows) else { return Ok(report) };
    let existing: HashMap<String, offer::Model> = Offer::find()
        .filter(offer::Column::Source.eq(SOURCE))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.source_id.clone(), o))
        .collect();
    let mut w = Writer::begin(db, "import:atout-france", "").await?;
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for (row, insee) in &rows {
        let Some(place) = by_insee.get(insee.as_str()) else { continue };
        let probe = match wanted(row, insee, place, edition, status, None) {
            Ok(o) => o,
            Err(why) => {
                report.rejected.push((row.name(), why));
                continue;
            }
        };
        if seen.insert(probe.source_id.clone(), ()).is_some() {
            report.rejected.push((row.name(), "the same establishment twice in the register".into()));
            continue;
        }
        let current = existing.get(&probe.source_id);
        // A register older than the one the offer was last seen in changes nothing.
        if let Some(c) = current
            && c.source_updated_at.is_some_and(|seen| seen > edition)
        {
            report.unchanged += 1;
            continue;
        }
        let want = match current {
            Some(c) => wanted(row, insee, place, edition, status, Some(c)),
            None => Ok(probe),
        };
        let want = match want {
            Ok(o) => o,
            Err(why) => {
                report.rejected.push((row.name(), why));
                continue;
            }
        };
        if let Err(e) = check_offer(&want, "") {
            report.rejected.push((row.name(), e.to_string()));
            continue;
        }
        match current {
            Some(c) if register_view(c) == register_view(&want) => report.unchanged += 1,
            Some(c) => {
                w.update(c, want, c.version, RevisionAction::Import).await?;
                report.updated += 1;
            }
            None => {
                w.create(want, SlugRule::FromName, RevisionAction::Import).await?;
                report.created += 1;
            }
        }
    }
    // Establishments this register no longer lists lose their classification, not their offer.
    let day = edition.date_naive();
    for (key, o) in &existing {
        let listed = seen.contains_key(key);
        let older = o.source_updated_at.is_some_and(|seen| seen > edition);
        if listed || older || o.classification.is_none() {
            continue;
        }
        let mut after = o.clone();
        after.classification = None;
        after.source_updated_at = Some(edition);
        w.update(o, after, o.version, RevisionAction::Import).await?;
        w.annotate(&o.id, &format!("no longer in Atout France's register of classified accommodation (edition of {day}): classification withdrawn"));
        report.declassified += 1;
    }
    w.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_names_fold_as_the_register_writes_them() {
        assert_eq!(fold("FLINES-LÈS-MORTAGNE"), fold("Flines-lès-Mortagne"));
        assert_eq!(fold("SAINT-AMAND-LES-EAUX"), fold("Saint-Amand-les-Eaux"));
        assert_ne!(fold("ROUVIGNIES"), fold("Denain"));
    }

    #[test]
    fn columns_are_found_whatever_their_case_and_accents() {
        let published = col::ALL.join(";");
        let at = columns(published.split(';')).expect("the register's own names");
        assert_eq!(at[col::DATE], 0);
        assert_eq!(at[col::EXTENDED], 16);
        // Another edition: a byte-order mark, capitals without accents, columns moved, one more.
        let mut other: Vec<String> = col::ALL.iter().rev().map(|c| c.to_uppercase().replace(['É', 'È'], "E")).collect();
        other[0] = format!("\u{feff} {} ", other[0]);
        other.push("OBSERVATIONS".to_owned());
        let at = columns(other.iter().map(String::as_str)).expect("found");
        assert_eq!((at[col::DATE], at[col::EXTENDED], at[col::CATEGORY]), (16, 0, 13));
        let missing = columns(published.split(';').filter(|h| *h != col::NAME));
        assert!(missing.is_err_and(|e| e.to_string().contains("NOM COMMERCIAL")));
    }

    fn row(fields: &[(&'static str, &str)]) -> Row {
        Row { line: 2, fields: fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect() }
    }

    #[test]
    fn a_row_states_its_classification_and_capacity() {
        let r = row(&[
            (col::DATE, "24/05/2023"),
            (col::TYPOLOGY, "CAMPING"),
            (col::CLASS, "3 étoiles"),
            (col::CATEGORY, "LOISIRS"),
            (col::MENTION, "-"),
            (col::STAY, "-"),
            (col::PEOPLE, "300"),
            (col::PITCHES, "100"),
            (col::ROOMS, "-"),
            (col::EXTENDED, "non"),
        ]);
        let c = classification(&r).expect("classification");
        assert_eq!(
            (c.typology, c.stars, c.category),
            (AccommodationType::Campsite, Some(3), Some(CampsiteCategory::Leisure))
        );
        assert_eq!(c.classified_on, NaiveDate::from_ymd_opt(2023, 5, 24).expect("date"));
        let cap = capacity(&r).expect("capacity").expect("some");
        assert_eq!((cap.people, cap.pitches, cap.rooms), (Some(300), Some(100), None));
        let village = row(&[
            (col::DATE, "01/06/2024"),
            (col::TYPOLOGY, "Village de vacances"),
            (col::CLASS, "2 ETOILES"),
            (col::MENTION, "hébergement_léger"),
            (col::STAY, "FORMULE_LOCATION_PENSION"),
        ]);
        let c = classification(&village).expect("classification");
        assert_eq!(
            (c.typology, c.stars, c.mention, c.stay),
            (
                AccommodationType::HolidayVillage,
                Some(2),
                Some(VillageMention::Light),
                Some(StayFormula::RentalAndBoard)
            )
        );
        let natural = row(&[(col::DATE, "01/06/2024"), (col::TYPOLOGY, "CAMPING"), (col::CLASS, "Aire naturelle")]);
        assert_eq!(classification(&natural).expect("classification").stars, None);
        let bad = row(&[(col::DATE, "2024-06-01"), (col::TYPOLOGY, "CAMPING"), (col::CLASS, "1 étoile")]);
        assert!(classification(&bad).is_err_and(|e| e.contains("DD/MM/YYYY")));
        let unknown = row(&[(col::DATE, "01/06/2024"), (col::TYPOLOGY, "GÎTE"), (col::CLASS, "1 étoile")]);
        assert!(classification(&unknown).is_err());
    }
}
