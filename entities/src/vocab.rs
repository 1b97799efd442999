//! The typed vocabulary of the offer: each enumeration is stored as its lowercase code (the
//! migrations keep a `CHECK` constraint on each column), serialised the same way in revisions and
//! feeds, and mirrored as a GraphQL enum by the API (`#[graphql(remote = …)]`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares a stored enumeration: its variants with their codes, `code()`, `from_code()` and `ALL`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[sea_orm(string_value = $code)]
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }

            /// Reads a stored code.
            pub fn from_code(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary! {
    /// Kinds of offer.
    OfferKind {
        /// A place to visit.
        Site = "site",
        /// Somewhere to stay.
        Accommodation = "accommodation",
        /// Something that happens on dates.
        Event = "event",
        /// An itinerary.
        Route = "route",
        /// Somewhere to eat.
        Restaurant = "restaurant",
        /// An activity provider.
        Activity = "activity",
        /// A service (tourist office, rental…).
        Service = "service",
    }
}

vocabulary! {
    /// Where an offer stands in its life.
    OfferStatus {
        /// Being written: seen only by those who may edit it.
        Draft = "draft",
        /// Public.
        Published = "published",
        /// No longer public, kept.
        Archived = "archived",
    }
}

vocabulary! {
    /// How precise a position is.
    GeoPrecision {
        /// Surveyed or taken from an official dataset.
        Exact = "exact",
        /// Placed by hand near the place.
        Approximate = "approximate",
        /// Only the commune is known: the point is somewhere in it.
        Commune = "commune",
    }
}

vocabulary! {
    /// Kinds of media.
    MediaKind {
        /// A picture.
        Image = "image",
        /// A film.
        Video = "video",
        /// A recording.
        Audio = "audio",
        /// A document (a leaflet, a map).
        Document = "document",
    }
}

vocabulary! {
    /// What a change of an offer was.
    RevisionAction {
        /// Created (as a draft).
        Create = "create",
        /// Fields, occurrences, media, stages or links changed.
        Update = "update",
        /// Made public.
        Publish = "publish",
        /// Back to draft.
        Unpublish = "unpublish",
        /// Archived.
        Archive = "archive",
        /// Soft-deleted.
        Delete = "delete",
        /// Restored after a deletion.
        Restore = "restore",
        /// Written by the territory loader.
        Seed = "seed",
        /// Written by an importer.
        Import = "import",
    }
}

vocabulary! {
    /// How faithful a route's line is.
    LinePrecision {
        /// A real track.
        Surveyed = "surveyed",
        /// Straight lines through the stages.
        Schematic = "schematic",
    }
}

vocabulary! {
    /// How hard a route is.
    Difficulty {
        /// For everyone.
        Easy = "easy",
        /// Some effort.
        Medium = "medium",
        /// For the trained.
        Hard = "hard",
    }
}

vocabulary! {
    /// What changed in a catalog version.
    ChangeScope {
        /// Offers (and what hangs off them): applied offer by offer.
        Offers = "offers",
        /// Reference data (communes, themes): a snapshot is rebuilt.
        Reference = "reference",
    }
}

vocabulary! {
    /// Types of establishment in Atout France's register of classified accommodation.
    AccommodationType {
        /// Hôtel de tourisme.
        Hotel = "hotel",
        /// Camping (terrain de camping et de caravanage).
        Campsite = "campsite",
        /// Résidence de tourisme.
        TouristResidence = "tourist-residence",
        /// Village de vacances.
        HolidayVillage = "holiday-village",
        /// Parc résidentiel de loisirs.
        ResidentialLeisurePark = "residential-leisure-park",
        /// Auberge collective.
        CollectiveHostel = "collective-hostel",
    }
}

vocabulary! {
    /// The category of a classified campsite.
    CampsiteCategory {
        /// « Tourisme »: mostly pitches for passing visitors.
        Tourism = "tourism",
        /// « Loisirs »: mostly pitches rented for the season or longer.
        Leisure = "leisure",
    }
}

vocabulary! {
    /// The mention of a classified holiday village.
    VillageMention {
        /// No mention.
        None = "none",
        /// « Hébergement dispersé ».
        Dispersed = "dispersed",
        /// « Hébergement léger ».
        Light = "light",
        /// « Hébergement léger et dispersé ».
        LightAndDispersed = "light-and-dispersed",
    }
}

vocabulary! {
    /// How a holiday village is sold.
    StayFormula {
        /// Full or half board (« formule pension »).
        Board = "board",
        /// Rental or board (« formule location-pension »).
        RentalAndBoard = "rental-and-board",
        /// Rental only (« formule location »).
        Rental = "rental",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_serialise_as_stored() {
        for k in OfferKind::ALL {
            assert_eq!(OfferKind::from_code(k.code()), Some(*k));
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::json!(k.code())));
        }
        assert_eq!(RevisionAction::from_code("import"), Some(RevisionAction::Import));
        assert_eq!(OfferStatus::from_code("deleted"), None);
    }
}
