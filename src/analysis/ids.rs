//! Finding ids, built in one place.
//!
//! A finding's id names its analysis and what it is about
//! (`resolution/countries/region/image-mlp/europe-vs-africa`); reruns, baselines (`diff`),
//! review decisions, SARIF fingerprints and JUnit test cases are matched by it, and the
//! report lists every check an analysis made (passing ones too) by building the same ids from
//! the analysis's tables. So each id is made by one function here, from the names as they
//! appear in the summary, and every part is a [`slug`]. The families a rule is corrected in
//! are named the same way (`*_family`).

use super::slug;

/// Units of `tap` that read the names of `selection` without seeing their images.
pub fn word_units(tap: &str, selection: &str) -> String {
    format!("multimodality/{}/{}/word-units", slug(tap), slug(selection))
}

/// The resolution family of one tap: `family`'s groups at `level`.
pub fn resolution_family(family: &str, level: &str, tap: &str) -> String {
    format!("resolution/{}/{}/{}", slug(family), slug(level), slug(tap))
}

/// Coverage of group `higher` against `lower` at a tap.
pub fn resolution(family: &str, level: &str, tap: &str, higher: &str, lower: &str) -> String {
    format!("{}/{}-vs-{}", resolution_family(family, level, tap), slug(higher), slug(lower))
}

/// The association family: the groups' selection against the attributes' selection.
pub fn associations_family(groups: &str, attributes: &str) -> String {
    format!("associations/{}/{}", slug(groups), slug(attributes))
}

/// The association of member `group` (of the `groups` selection) with `attribute`.
pub fn association(groups: &str, group: &str, attribute: &str) -> String {
    format!("associations/{}/{}/{}", slug(groups), slug(group), slug(attribute))
}

/// The denigration family of the `images` selection.
pub fn denigration_family(images: &str) -> String {
    format!("denigration/{}", slug(images))
}

/// The denigration rule `kind` (`rate` or `ratio`) for `breakdown` = `group`.
pub fn denigration(images: &str, breakdown: &str, group: &str, kind: &str) -> String {
    format!("{}/{}/{}/{kind}", denigration_family(images), slug(breakdown), slug(group))
}

/// The typographic family of a selection.
pub fn typographic_family(family: &str) -> String {
    format!("typographic/{}", slug(family))
}

/// Label flips caused by names written onto `family`'s images.
pub fn flip_rate(family: &str) -> String {
    format!("{}/flip-rate", typographic_family(family))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_slugged_paths() {
        assert_eq!(
            resolution("countries", "region", "image.mlp", "Europe", "Africa"),
            "resolution/countries/region/image-mlp/europe-vs-africa"
        );
        assert_eq!(association("people", "oceania", "criminal"), "associations/people/oceania/criminal");
        assert_eq!(
            denigration("faces", "race", "Latino_Hispanic", "rate"),
            "denigration/faces/race/latino-hispanic/rate"
        );
        assert_eq!(flip_rate("countries"), "typographic/countries/flip-rate");
        assert_eq!(word_units("image.mlp", "countries"), "multimodality/image-mlp/countries/word-units");
    }
}
