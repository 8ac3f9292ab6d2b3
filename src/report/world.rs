//! Country outlines for the HTML report's world map, embedded in the binary so the report stays
//! one self-contained file that draws offline. They are Natural Earth's admin-0 countries at
//! 1:110m (public domain, through the npm package world-atlas 2.0.2, ISC), already projected
//! equirectangularly onto a 720 × 360 box and written as SVG path data by
//! `scripts/make_world_shapes.py` (`assets/world/README.md`); nothing is projected or
//! simplified here. The asset is parsed once, on first use.
//!
//! Countries are keyed by ISO 3166-1 alpha-2 in lower case, the ids of the `countries` family
//! of `probes/regions.yaml`. An id alone does not make a member a country (a US state "in" is
//! not India), so [`country_at`] also asks that the member's own coordinates fall within, or
//! near, the outline's bounding box: a coarse guard against an unrelated two-letter id, not a
//! point-in-polygon test.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The asset, as `scripts/make_world_shapes.py` writes it.
const ASSET: &str = include_str!("../../assets/world/countries-110m.json");

/// How far (in box units, half a degree each) a member's coordinates may lie outside its
/// country's bounding box: 1:110m leaves out outlying islands, and Vanuatu's capital is on one.
const MARGIN: f64 = 4.0;

/// One country's outline.
#[derive(Debug, serde::Deserialize)]
pub struct Country {
    /// Its bounding box in box units: `[x0, y0, x1, y1]`.
    pub bounds: [f64; 4],
    /// SVG path data; rings of one country may nest (Lesotho inside South Africa), so fill it
    /// with `fill-rule="evenodd"`.
    pub d: String,
}

impl Country {
    /// Whether the point `(x, y)` (box units) is in or near the outline's bounding box.
    pub fn near(&self, (x, y): (f64, f64)) -> bool {
        let [x0, y0, x1, y1] = self.bounds;
        (x0 - MARGIN..=x1 + MARGIN).contains(&x) && (y0 - MARGIN..=y1 + MARGIN).contains(&y)
    }
}

#[derive(Debug, serde::Deserialize)]
struct World {
    width: f64,
    height: f64,
    countries: BTreeMap<String, Country>,
    /// Natural Earth features with no ISO code (Kosovo, N. Cyprus, Somaliland), by their
    /// Natural Earth names: background only.
    unkeyed: BTreeMap<String, String>,
}

static WORLD: LazyLock<World> =
    LazyLock::new(|| serde_json::from_str(ASSET).expect("the embedded assets/world/countries-110m.json is valid"));

/// The box the outlines are drawn in: `(720, 360)`.
pub fn size() -> (f64, f64) {
    (WORLD.width, WORLD.height)
}

/// A latitude and longitude in the outlines' projection (x = (lon + 180) / 360 · width,
/// y = (90 − lat) / 180 · height).
pub fn project(lat: f64, lon: f64) -> (f64, f64) {
    let (w, h) = size();
    ((lon + 180.0) / 360.0 * w, (90.0 - lat) / 180.0 * h)
}

/// The outline of the country with this ISO 3166-1 alpha-2 code (lower case), if Natural
/// Earth draws it at 1:110m (small island states and microstates it does not).
pub fn country(alpha2: &str) -> Option<&'static Country> {
    WORLD.countries.get(alpha2)
}

/// The outline to draw for a member with this id at these coordinates: its country's, when
/// the id names one and the coordinates fall within (or near) it.
pub fn country_at(id: &str, lat: f64, lon: f64) -> Option<&'static Country> {
    country(id).filter(|c| c.near(project(lat, lon)))
}

/// Every outline as `(alpha-2, path data)`, the features with no ISO code (Kosovo, N. Cyprus,
/// Somaliland) with `None`: the map's background.
pub fn outlines() -> impl Iterator<Item = (Option<&'static str>, &'static str)> {
    let keyed = WORLD.countries.iter().map(|(id, c)| (Some(id.as_str()), c.d.as_str()));
    keyed.chain(WORLD.unkeyed.values().map(|d| (None, d.as_str())))
}
