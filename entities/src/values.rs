//! The structured fields of an offer, stored as JSON columns with a known shape (`camelCase`
//! keys), each with its check: whatever writes an offer (a mutation, the loader, an importer)
//! passes through [`Texts::check`], [`Address::check`], [`Contacts::check`] and the others, so a
//! stored value always has the shape and the content these types promise.

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

use crate::domain::check::{self, Checked, invalid};
use crate::vocab::{AccommodationType, CampsiteCategory, StayFormula, VillageMention};

/// Longest long text.
pub const MAX_TEXT: usize = 10_000;
/// Longest short description (DATAtourisme's reach 700 characters).
pub const MAX_SHORT: usize = 1_000;
/// Longest name.
pub const MAX_NAME: usize = 200;

/// Languages of the texts, French being the language of record.
pub const LANGS: [&str; 4] = ["fr", "en", "nl", "de"];

/// A text in the four languages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Texts {
    /// French.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    /// Dutch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nl: Option<String>,
    /// German.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<String>,
}

impl Texts {
    /// A French text.
    pub fn fr(text: impl Into<String>) -> Texts {
        Texts { fr: Some(text.into()), ..Texts::default() }
    }

    /// The text in a language (`fr`, `en`, `nl`, `de`).
    pub fn get(&self, lang: &str) -> Option<&str> {
        match lang {
            "fr" => self.fr.as_deref(),
            "en" => self.en.as_deref(),
            "nl" => self.nl.as_deref(),
            "de" => self.de.as_deref(),
            _ => None,
        }
    }

    /// Every language with its text.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        LANGS.into_iter().zip([&self.fr, &self.en, &self.nl, &self.de]).filter_map(|(l, t)| Some((l, t.as_deref()?)))
    }

    /// Whether no language has a text.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Checked: each text trimmed (an empty one dropped), at most `max` characters; one-line when
    /// `max` is a name's; the French one required when `need_fr`.
    pub fn check(&self, field: &str, max: usize, need_fr: bool) -> Checked<Texts> {
        let one = |lang: &str, t: &Option<String>| -> Checked<Option<String>> {
            let Some(t) = t else { return Ok(None) };
            let path = format!("{field}.{lang}");
            let t = if max <= MAX_NAME { check::line(&path, t, max)? } else { check::text(&path, t, max)? };
            Ok((!t.is_empty()).then_some(t))
        };
        let out = Texts {
            fr: one("fr", &self.fr)?,
            en: one("en", &self.en)?,
            nl: one("nl", &self.nl)?,
            de: one("de", &self.de)?,
        };
        if need_fr && out.fr.is_none() {
            return Err(invalid(format!("{field}.fr"), "the French text is required"));
        }
        Ok(out)
    }
}

/// A postal address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    /// Street and number.
    pub street: Option<String>,
    /// Postcode (five digits in France).
    pub postal_code: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// INSEE code of the commune.
    pub insee_code: Option<String>,
}

impl Address {
    /// Checked: one-line texts, a five-digit postcode, a five-character INSEE code.
    pub fn check(&self, field: &str) -> Checked<Address> {
        let text = |name: &str, v: &Option<String>, max: usize| -> Checked<Option<String>> {
            match v {
                Some(v) => Ok(Some(check::line(&format!("{field}.{name}"), v, max)?).filter(|s| !s.is_empty())),
                None => Ok(None),
            }
        };
        let postal_code = text("postalCode", &self.postal_code, 5)?;
        if let Some(p) = &postal_code
            && (p.len() != 5 || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid(format!("{field}.postalCode"), "five digits"));
        }
        let insee_code = text("inseeCode", &self.insee_code, 5)?;
        if let Some(c) = &insee_code
            && (c.len() != 5 || !c.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(invalid(format!("{field}.inseeCode"), "five letters or digits"));
        }
        Ok(Address {
            street: text("street", &self.street, 200)?,
            postal_code,
            locality: text("locality", &self.locality, 100)?,
            insee_code,
        })
    }
}

/// Ways to reach an offer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(default)]
pub struct Contacts {
    /// Phone numbers.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Websites (http or https).
    pub websites: Vec<String>,
}

impl Contacts {
    /// Checked: at most 10 of each, every phone, e-mail and URL well-formed.
    pub fn check(&self, field: &str) -> Checked<Contacts> {
        fn list(field: &str, name: &str, v: &[String], f: fn(&str, &str) -> Checked<String>) -> Checked<Vec<String>> {
            if v.len() > 10 {
                return Err(invalid(format!("{field}.{name}"), "at most 10 items"));
            }
            v.iter().enumerate().map(|(i, s)| f(&format!("{field}.{name}[{i}]"), s)).collect()
        }
        Ok(Contacts {
            phones: list(field, "phones", &self.phones, check::phone)?,
            emails: list(field, "emails", &self.emails, check::email)?,
            websites: list(field, "websites", &self.websites, check::url)?,
        })
    }

    /// Whether there is nothing to reach.
    pub fn is_empty(&self) -> bool {
        self.phones.is_empty() && self.emails.is_empty() && self.websites.is_empty()
    }
}

/// Accessibility facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(rename_all = "camelCase", default)]
pub struct Accessibility {
    /// OpenStreetMap `wheelchair` value: yes, limited or no.
    pub wheelchair: Option<String>,
    /// Tourisme & Handicap labels: motor, visual, hearing, mental.
    pub tourisme_handicap: Vec<String>,
}

impl Accessibility {
    /// Checked against the two vocabularies.
    pub fn check(&self, field: &str) -> Checked<Accessibility> {
        if let Some(w) = &self.wheelchair
            && !["yes", "limited", "no"].contains(&w.as_str())
        {
            return Err(invalid(format!("{field}.wheelchair"), "yes, limited or no"));
        }
        for (i, l) in self.tourisme_handicap.iter().enumerate() {
            if !["motor", "visual", "hearing", "mental"].contains(&l.as_str()) {
                return Err(invalid(format!("{field}.tourismeHandicap[{i}]"), "motor, visual, hearing or mental"));
            }
        }
        let mut labels = self.tourisme_handicap.clone();
        labels.sort();
        labels.dedup();
        Ok(Accessibility { wheelchair: self.wheelchair.clone(), tourisme_handicap: labels })
    }

    /// Whether the offer is accessible to wheelchair users by its data.
    pub fn is_accessible(&self) -> bool {
        self.wheelchair.as_deref() == Some("yes") || !self.tourisme_handicap.is_empty()
    }
}

/// A classification in Atout France's register of classified tourist accommodation: the type of
/// establishment, its stars (or its class when it has none), and the decision's date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(rename_all = "camelCase")]
pub struct Classification {
    /// Type of establishment.
    pub typology: AccommodationType,
    /// Stars, 1 to 5, when the class is in stars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stars: Option<i32>,
    /// The class as the register words it (« 3 étoiles », « Aire naturelle », « Auberge collective »).
    pub label: String,
    /// For a campsite: tourism or leisure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CampsiteCategory>,
    /// For a holiday village: its mention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<VillageMention>,
    /// For a holiday village: how stays are sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stay: Option<StayFormula>,
    /// Date of the classification decision.
    pub classified_on: chrono::NaiveDate,
    /// Whether the classification was extended beyond its five years (« classement prorogé »).
    #[serde(default)]
    pub extended: bool,
}

impl Classification {
    /// Checked: stars 1 to 5, a label of one line, a date between 2000 and next year.
    pub fn check(&self, field: &str) -> Checked<Classification> {
        if let Some(s) = self.stars
            && !(1..=5).contains(&s)
        {
            return Err(invalid(format!("{field}.stars"), "between 1 and 5"));
        }
        let label = check::line(&format!("{field}.label"), &self.label, 100)?;
        if label.is_empty() {
            return Err(invalid(format!("{field}.label"), "required"));
        }
        let year = chrono::Datelike::year(&self.classified_on);
        let next = chrono::Datelike::year(&chrono::Utc::now()) + 1;
        if !(2000..=next).contains(&year) {
            return Err(invalid(format!("{field}.classifiedOn"), format!("a date between 2000 and {next}")));
        }
        Ok(Classification { label, ..self.clone() })
    }
}

/// Capacity of an accommodation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(rename_all = "camelCase", default)]
pub struct Capacity {
    /// Beds.
    pub beds: Option<i32>,
    /// Rooms.
    pub rooms: Option<i32>,
    /// Units (rentals, chalets, mobile homes).
    pub units: Option<i32>,
    /// People it can host.
    pub people: Option<i32>,
    /// Pitches (campsites).
    pub pitches: Option<i32>,
}

impl Capacity {
    /// Checked: each count between 0 and a sane maximum.
    pub fn check(&self, field: &str) -> Checked<Capacity> {
        for (name, v, max) in [
            ("beds", self.beds, 10_000),
            ("rooms", self.rooms, 5_000),
            ("units", self.units, 5_000),
            ("people", self.people, 50_000),
            ("pitches", self.pitches, 5_000),
        ] {
            if let Some(v) = v
                && !(0..=max).contains(&v)
            {
                return Err(invalid(format!("{field}.{name}"), format!("between 0 and {max}")));
            }
        }
        Ok(self.clone())
    }

    /// Whether no count is known.
    pub fn is_empty(&self) -> bool {
        *self == Capacity::default()
    }
}

/// One price.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Price {
    /// What it is for (adult, child, group…).
    pub label: Option<String>,
    /// Lowest amount.
    pub min_price: Option<f64>,
    /// Highest amount.
    pub max_price: Option<f64>,
    /// ISO 4217 currency (EUR by default).
    pub currency: Option<String>,
}

/// Prices of an offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct Prices(pub Vec<Price>);

impl Prices {
    /// Checked: at most 50, a one-line label, amounts from 0 to 1,000,000 in order, a currency
    /// of three capital letters.
    pub fn check(&self, field: &str) -> Checked<Prices> {
        if self.0.len() > 50 {
            return Err(invalid(field, "at most 50 prices"));
        }
        let mut out = Vec::with_capacity(self.0.len());
        for (i, p) in self.0.iter().enumerate() {
            let path = format!("{field}[{i}]");
            let label = p.label.as_deref().map(|l| check::line(&format!("{path}.label"), l, 200)).transpose()?;
            for (name, v) in [("minPrice", p.min_price), ("maxPrice", p.max_price)] {
                if let Some(v) = v
                    && !(v.is_finite() && (0.0..=1_000_000.0).contains(&v))
                {
                    return Err(invalid(format!("{path}.{name}"), "an amount from 0 to 1,000,000"));
                }
            }
            if p.min_price.is_none() && p.max_price.is_none() {
                return Err(invalid(&path, "give minPrice, maxPrice or both"));
            }
            if let (Some(a), Some(b)) = (p.min_price, p.max_price)
                && a > b
            {
                return Err(invalid(format!("{path}.maxPrice"), "at least minPrice"));
            }
            let currency = p.currency.clone().unwrap_or_else(|| "EUR".to_owned());
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(invalid(format!("{path}.currency"), "an ISO 4217 code such as EUR"));
            }
            out.push(Price { label, min_price: p.min_price, max_price: p.max_price, currency: Some(currency) });
        }
        Ok(Prices(out))
    }
}

/// A list of short codes (classes, labels, practices, postcodes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct Codes(pub Vec<String>);

impl Codes {
    /// Checked: at most 50 codes of 1 to 100 printable characters, in their order, once each.
    pub fn check(&self, field: &str) -> Checked<Codes> {
        let mut v = check::codes(field, &self.0)?;
        let mut seen = std::collections::HashSet::new();
        v.retain(|c| seen.insert(c.clone()));
        Ok(Codes(v))
    }

    /// Whether a code is there.
    pub fn contains(&self, code: &str) -> bool {
        self.0.iter().any(|c| c == code)
    }
}

impl<S: Into<String>> FromIterator<S> for Codes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Codes(iter.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_checked_and_need_french_when_asked() {
        let t = Texts { fr: Some("  Musée ".into()), en: Some("   ".into()), ..Texts::default() };
        assert_eq!(t.check("input.name", MAX_NAME, true), Ok(Texts::fr("Musée")));
        assert_eq!(
            Texts { en: Some("x".into()), ..Texts::default() }.check("input.name", MAX_NAME, true).map_err(|e| e.field),
            Err("input.name.fr".to_owned())
        );
        let control = Texts::fr("a\u{1b}[31m");
        assert_eq!(control.check("name", MAX_NAME, true).map_err(|e| e.field), Err("name.fr".to_owned()));
        let newline = Texts::fr("a\nb");
        assert!(newline.check("name", MAX_NAME, true).is_err(), "a name is one line");
        assert!(newline.check("description", MAX_TEXT, false).is_ok(), "a description is not");
        let long = Texts::fr("é".repeat(MAX_SHORT + 1));
        assert!(long.check("shortDescription", MAX_SHORT, false).is_err_and(|e| e.field == "shortDescription.fr"));
    }

    #[test]
    fn addresses_contacts_and_accessibility_name_the_field_they_refuse() {
        let a = Address { postal_code: Some("5930".into()), ..Address::default() };
        assert_eq!(a.check("input.address").map_err(|e| e.field), Err("input.address.postalCode".to_owned()));
        let ok = Address { street: Some(" 1 rue X ".into()), postal_code: Some("59135".into()), ..Address::default() };
        assert_eq!(ok.check("a").map(|a| a.street), Ok(Some("1 rue X".to_owned())));
        let c =
            Contacts { websites: vec!["https://ok.fr".into(), "javascript:alert(1)".into()], ..Contacts::default() };
        assert_eq!(c.check("contacts").map_err(|e| e.field), Err("contacts.websites[1]".to_owned()));
        let c = Contacts { emails: vec!["\"><img src=x onerror=alert(1)>".into()], ..Contacts::default() };
        assert_eq!(c.check("contacts").map_err(|e| e.field), Err("contacts.emails[0]".to_owned()));
        let c = Contacts { phones: vec!["1".into(); 11], ..Contacts::default() };
        assert_eq!(c.check("contacts").map_err(|e| e.field), Err("contacts.phones".to_owned()));
        let acc = Accessibility { wheelchair: Some("maybe".into()), ..Accessibility::default() };
        assert_eq!(acc.check("x").map_err(|e| e.field), Err("x.wheelchair".to_owned()));
        let acc = Accessibility { tourisme_handicap: vec!["motor".into(), "smell".into()], ..Accessibility::default() };
        assert_eq!(acc.check("x").map_err(|e| e.field), Err("x.tourismeHandicap[1]".to_owned()));
    }

    #[test]
    fn capacities_prices_and_codes() {
        let c = Capacity { beds: Some(-1), ..Capacity::default() };
        assert_eq!(c.check("capacity").map_err(|e| e.field), Err("capacity.beds".to_owned()));
        assert!(Capacity { pitches: Some(120), ..Capacity::default() }.check("c").is_ok());
        let p = Prices(vec![Price { min_price: Some(12.0), max_price: Some(8.0), ..Price::default() }]);
        assert_eq!(p.check("prices").map_err(|e| e.field), Err("prices[0].maxPrice".to_owned()));
        let p = Prices(vec![Price { label: Some("Adulte".into()), min_price: Some(8.5), ..Price::default() }]);
        assert_eq!(p.check("prices").map(|p| p.0[0].currency.clone()), Ok(Some("EUR".to_owned())));
        let p = Prices(vec![Price { min_price: Some(f64::INFINITY), ..Price::default() }]);
        assert!(p.check("prices").is_err());
        let codes = Codes(vec!["unesco".into(), "unesco".into(), "mh".into()]);
        assert_eq!(codes.check("labels"), Ok(Codes(vec!["unesco".into(), "mh".into()])));
    }

    #[test]
    fn stored_shapes_are_camel_case_and_read_back() {
        let a = Address { postal_code: Some("59135".into()), insee_code: Some("59632".into()), ..Address::default() };
        let v = serde_json::to_value(&a).expect("json");
        assert_eq!(v["postalCode"], "59135");
        assert_eq!(serde_json::from_value::<Address>(v).ok(), Some(a));
        // Rows written before these types existed read back.
        let old = serde_json::json!({ "wheelchair": null, "tourismeHandicap": [] });
        assert!(serde_json::from_value::<Accessibility>(old).is_ok());
    }
}
