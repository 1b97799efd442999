//! QR codes: short codes from an alphabet without look-alikes, attached once and for ever to an
//! offer, a route or a theme; and their images.

use std::sync::Arc;

use chrono::Utc;
use entities::prelude::QrCode as QrCodeEntity;
use entities::qr_code;
use image::ImageEncoder;
use qrcode::{EcLevel, QrCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::error::{Error, Result};

/// Characters of a code: no 0/O, 1/I/L, nor lower case.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Length of new codes (6 to 8 are accepted).
pub const LENGTH: usize = 7;

/// Whether a string can be a code (checked before any lookup).
pub fn is_code(s: &str) -> bool {
    (6..=8).contains(&s.len()) && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// A random code (from the OS generator, through UUID v4's random bits).
pub fn random_code() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes.iter().take(LENGTH).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// What a code points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An offer (not a route).
    Offer(String),
    /// A route offer.
    Route(String),
    /// A theme code.
    Theme(String),
}

impl Target {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Target::Offer(id) => ("offer", id),
            Target::Route(id) => ("route", id),
            Target::Theme(code) => ("theme", code),
        }
    }

    /// Reads a stored target.
    pub fn from_row(row: &qr_code::Model) -> Target {
        match row.target_kind.as_str() {
            "route" => Target::Route(row.target_id.clone()),
            "theme" => Target::Theme(row.target_id.clone()),
            _ => Target::Offer(row.target_id.clone()),
        }
    }
}

/// Codes already read, by code: a code never changes target, so a code read once is served from
/// memory after. Unknown codes are not remembered (another instance may create one at any time).
pub struct Resolved(moka::sync::Cache<String, Arc<qr_code::Model>>);

/// Codes kept in memory (a sign each; the oldest read go first).
const RESOLVED_CODES: u64 = 200_000;

impl Default for Resolved {
    fn default() -> Resolved {
        Resolved(moka::sync::Cache::new(RESOLVED_CODES))
    }
}

impl Resolved {
    /// The code's row, from memory or from the database; `None` when there is no such code.
    pub async fn find(&self, db: &DatabaseConnection, code: &str) -> Result<Option<Arc<qr_code::Model>>> {
        if let Some(row) = self.0.get(code) {
            return Ok(Some(row));
        }
        let Some(row) = QrCodeEntity::find_by_id(code.to_owned()).one(db).await? else { return Ok(None) };
        let row = Arc::new(row);
        self.0.insert(row.code.clone(), row.clone());
        Ok(Some(row))
    }
}

/// Creates a new code for a target; a code is never given to another target.
pub async fn create(db: &DatabaseConnection, target: &Target) -> Result<qr_code::Model> {
    let (kind, id) = target.parts();
    for _ in 0..10 {
        let code = random_code();
        if QrCodeEntity::find_by_id(code.clone()).one(db).await?.is_some() {
            continue;
        }
        let row = qr_code::ActiveModel {
            code: Set(code),
            target_kind: Set(kind.to_owned()),
            target_id: Set(id.to_owned()),
            created_at: Set(Utc::now()),
        };
        return Ok(row.insert(db).await?);
    }
    Err(Error::Internal("no free QR code after 10 tries".into()))
}

/// The codes of a target, oldest first.
pub async fn of_target(db: &DatabaseConnection, target: &Target) -> Result<Vec<qr_code::Model>> {
    let (kind, id) = target.parts();
    Ok(QrCodeEntity::find()
        .filter(qr_code::Column::TargetKind.eq(kind))
        .filter(qr_code::Column::TargetId.eq(id))
        .order_by_asc(qr_code::Column::CreatedAt)
        .all(db)
        .await?)
}

fn qr(url: &str) -> Result<QrCode> {
    // Level Q (25 % recovery) survives weathered signs better than the required M.
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::Q)
        .map_err(|e| Error::Internal(format!("QR encoding: {e}")))
}

/// The QR image as SVG (with its quiet zone), about `size` pixels wide.
pub fn svg(url: &str, size: u32) -> Result<String> {
    let code = qr(url)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// The QR image as PNG (with its quiet zone), about `size` pixels wide.
pub fn png(url: &str, size: u32) -> Result<Vec<u8>> {
    let code = qr(url)?;
    let img = code.render::<image::Luma<u8>>().min_dimensions(size, size).quiet_zone(true).build();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::L8)
        .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))?;
    Ok(out)
}

/// Text for XML and HTML: without what XML cannot hold (control characters), with markup escaped.
pub fn escape(text: &str) -> String {
    entities::domain::text::printable(text, false)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A print-ready sign (A6 portrait, in millimetres): the place's name, its theme, the QR code.
pub fn sign(url: &str, name: &str, theme: &str, color: &str) -> Result<String> {
    let code = qr(url)?;
    let modules = code.width() as u32 + 8;
    let colors = code.to_colors();
    let mut rects = String::new();
    let width = code.width();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % width + 4, i / width + 4);
            rects.push_str(&format!("<rect x=\"{x}\" y=\"{y}\" width=\"1\" height=\"1\"/>"));
        }
    }
    let color = if color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit()) {
        color
    } else {
        "#333333"
    };
    Ok(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="105mm" height="148mm" viewBox="0 0 105 148">
  <rect width="105" height="148" fill="#ffffff"/>
  <rect width="105" height="22" fill="{color}"/>
  <text x="52.5" y="14" font-family="sans-serif" font-size="7" fill="#ffffff" text-anchor="middle">La Porte du Hainaut</text>
  <text x="52.5" y="36" font-family="sans-serif" font-size="6" font-weight="bold" fill="#1a1a1a" text-anchor="middle">{name}</text>
  <text x="52.5" y="45" font-family="sans-serif" font-size="4.5" fill="{color}" text-anchor="middle">{theme}</text>
  <svg x="17.5" y="52" width="70" height="70" viewBox="0 0 {modules} {modules}" shape-rendering="crispEdges">
    <rect width="{modules}" height="{modules}" fill="#ffffff"/>
    <g fill="#000000">{rects}</g>
  </svg>
  <text x="52.5" y="134" font-family="sans-serif" font-size="3.5" fill="#555555" text-anchor="middle">{url}</text>
</svg>
"##,
        name = escape(name),
        theme = escape(theme),
        url = escape(url),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_avoid_look_alikes() {
        for _ in 0..200 {
            let c = random_code();
            assert!(is_code(&c), "{c}");
            assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
        }
        assert!(!is_code("ABC"));
        assert!(!is_code("ABCDEF0"));
        assert!(!is_code("../../etc"));
    }

    #[test]
    fn signs_escape_the_name() {
        let s = sign("https://x.test/q/ABCDEFG", "<script>&", "Découverte", "#8c510a").expect("sign");
        assert!(s.contains("&lt;script&gt;&amp;") && !s.contains("<script>"));
        let s = sign("https://x.test/q/ABCDEFG", "Nom\u{1}\r\n\u{7f}\u{ffff}", "A\"'B", "#8c510a").expect("sign");
        assert!(s.contains(">Nom </text>") && s.contains(">A&quot;&apos;B</text>"), "{s}");
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "no control character reaches the XML");
    }
}
