//! The HTML report's world map (issue 19, "A real map"): member countries filled on the
//! embedded Natural Earth outlines, the members the outlines lack as dots, and an asset that
//! covers every country of the shipped regions library but a known short list.

use clip_audit::analysis::resolution::MemberResolution;
use clip_audit::report::{html, world};
use clip_audit::spec::ProbeLibrary;

use crate::common::root;

/// Countries of probes/regions.yaml that Natural Earth does not draw at 1:110m (island states
/// and microstates): the map shows them as dots at their capitals.
const NO_OUTLINE: [&str; 29] = [
    "ad", "ag", "bb", "bh", "cv", "dm", "fm", "gd", "ki", "km", "kn", "lc", "li", "mc", "mh", "mt", "mu", "mv", "nr",
    "pw", "sc", "sg", "sm", "st", "to", "tv", "va", "vc", "ws",
];

fn member(id: &str, name: &str, (lat, lon): (f64, f64), dedicated_units: usize, best_d: f64) -> MemberResolution {
    MemberResolution {
        id: id.into(),
        name: name.into(),
        group: "Somewhere".into(),
        lat: Some(lat),
        lon: Some(lon),
        dedicated_units,
        best_d,
    }
}

/// The element of `svg` that holds `needle`, from its `<` to its closing tag's `>`.
fn element_with<'a>(svg: &'a str, needle: &str) -> &'a str {
    let at = svg.find(needle).unwrap_or_else(|| panic!("{needle} is not in the map"));
    let start = svg[..at].rfind('<').unwrap();
    let start = if svg[start..].starts_with("<title") { svg[..start].rfind('<').unwrap() } else { start };
    let end = at + svg[at..].find("</path>").or_else(|| svg[at..].find("</circle>")).unwrap();
    &svg[start..end]
}

#[test]
fn a_member_country_is_its_outline_filled_by_its_best_d_with_a_tooltip() {
    let france = member("fr", "France", (48.85, 2.35), 2, 3.5);
    let svg = html::world_map(&[france]).into_string();
    let outline = world::country("fr").expect("France has an outline").d.as_str();
    let path = element_with(&svg, "France (Somewhere): 2 dedicated units, best d 3.500");
    assert!(path.starts_with("<path ") && path.contains(&format!("d=\"{outline}\"")), "{path}");
    assert!(path.contains("fill=\"#3182bd\"") && path.contains("stroke=\"#1d2330\""), "3 ≤ d < 4, dedicated: {path}");
    assert_eq!(svg.matches(outline).count(), 1, "France is drawn once, not also as background");
    // The rest of the world is background, with no tooltip.
    let spain = world::country("es").unwrap().d.as_str();
    assert!(element_with(&svg, spain).contains("fill=\"#dfe3ea\""));
    assert_eq!(svg.matches("<title>").count(), 1);
    assert!(!svg.contains("<circle"), "no dots, so no dot in the legend");
}

#[test]
fn a_member_without_an_outline_is_a_dot_at_its_coordinates() {
    let tuvalu = member("tv", "Tuvalu", (-8.52, 179.2), 0, 0.4);
    // An id that looks like a country code but is not one: Indiana is no part of India.
    let indiana = member("in", "Indiana", (39.77, -86.16), 1, 2.5);
    let svg = html::world_map(&[tuvalu, indiana]).into_string();
    let dot = element_with(&svg, "Tuvalu (Somewhere): 0 dedicated units, best d 0.400");
    assert!(dot.starts_with("<circle cx=\"718.4\" cy=\"197.0\"") && dot.contains("fill=\"#eff3ff\""), "{dot}");
    let dot = element_with(&svg, "Indiana (Somewhere)");
    assert!(dot.starts_with("<circle cx=\"187.7\" cy=\"100.5\"") && dot.contains("fill=\"#6baed6\""), "{dot}");
    assert!(dot.contains("stroke=\"#1d2330\""), "a dedicated unit: {dot}");
    let india = world::country("in").unwrap().d.as_str();
    assert!(element_with(&svg, india).contains("fill=\"#dfe3ea\""), "India stays background");
    assert!(svg.contains("no outline at 1:110m"), "the legend explains the dots");
    assert!(
        svg.contains("<circle cx=\"492\" cy=\"0\" r=\"3.5\" fill=\"#6baed6\""),
        "the legend's dot has a d colour, not the white of no d"
    );
}

#[test]
fn every_country_of_the_regions_library_has_an_outline_but_a_known_few() {
    let path = root().join("probes/regions.yaml");
    let library = ProbeLibrary::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let countries = library.family("countries").unwrap();
    let coord = |m: &clip_audit::spec::probe::Member, key: &str| m.meta[key].as_f64().unwrap();
    let mut lacking = Vec::new();
    for m in &countries.members {
        let (lat, lon) = (coord(m, "lat"), coord(m, "lon"));
        match world::country_at(&m.id, lat, lon) {
            Some(_) => assert!(!NO_OUTLINE.contains(&m.id.as_str()), "{} has an outline now", m.id),
            None => lacking.push(m.id.clone()),
        }
    }
    assert_eq!(lacking, NO_OUTLINE, "countries with no outline, or one away from their capital");
    // The background also has what is not a UN member or observer, and the three features
    // with no ISO code.
    assert_eq!(world::outlines().count(), 177);
    assert_eq!(world::outlines().filter(|(id, _)| id.is_none()).count(), 3);
    for id in ["tw", "eh", "gl", "aq"] {
        assert!(world::country(id).is_some(), "{id}");
    }
}

#[test]
fn a_member_country_name_is_escaped_in_its_tooltip() {
    let evil = member("fr", "<script>alert(1)</script>&", (48.85, 2.35), 0, 1.0);
    let svg = html::world_map(&[evil]).into_string();
    assert!(svg.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;&amp; (Somewhere)"), "{}", &svg[..300]);
}

#[test]
fn the_denigration_map_shades_each_member_by_its_rate_with_the_count_and_ci_on_hover() {
    use clip_audit::analysis::present::MemberRate;
    let rate = |id: &str, name: &str, (lat, lon): (f64, f64), events: u64, n: u64, ci: [f64; 2]| MemberRate {
        id: id.into(),
        name: name.into(),
        lat,
        lon,
        rate: events as f64 / n as f64,
        ci,
        events,
        n,
    };
    let kenya = rate("ke", "Kenya", (-1.29, 36.82), 3, 10, [0.067, 0.652]);
    let samoa = rate("ws", "Samoa", (-13.83, -171.76), 0, 8, [0.0, 0.369]);
    let svg = html::rate_map(&[kenya, samoa]).into_string();
    let outline = world::country("ke").unwrap().d.as_str();
    let path = element_with(&svg, "Kenya: 3 of 10 images (0.300), 95% CI");
    assert!(path.starts_with("<path ") && path.contains(&format!("d=\"{outline}\"")), "{path}");
    assert!(path.contains("fill=\"#e6550d\""), "0.2 ≤ rate < 0.5: {path}");
    assert!(path.contains("[0.067, 0.652]"), "{path}");
    let dot = element_with(&svg, "Samoa: 0 of 8 images");
    assert!(dot.starts_with("<circle ") && dot.contains("fill=\"#feedde\""), "rate 0, no outline: {dot}");
    assert!(svg.contains("≥ 0.5") && svg.contains("no outline at 1:110m"), "the legend");
}
