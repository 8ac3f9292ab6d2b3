//! Reading back the numbers clip-audit writes to JSON. JSON has no NaN or infinity, and
//! serde_json writes both as `null`, but refuses to read `null` into an `f64`. A report whose
//! statistics include an undefined value (a Cohen's d without spread, a ratio's infinite upper
//! bound) would then serialise and fail to load. These functions, used with
//! `#[serde(deserialize_with = "...")]` on the report's number fields, read `null` back as NaN
//! (an infinite bound comes back as NaN too: "undefined" either way to a reader).

use serde::{Deserialize, Deserializer};

fn nan_if_none(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// An `f64`, `null` read as NaN.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(nan_if_none)
}

/// An `f32`, `null` read as NaN.
pub fn f32<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Option::<f32>::deserialize(d).map(|v| v.unwrap_or(f32::NAN))
}

/// An interval `[lo, hi]`, each `null` read as NaN.
pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
    <[Option<f64>; 2]>::deserialize(d).map(|[a, b]| [nan_if_none(a), nan_if_none(b)])
}

/// An optional interval: `null` is None, a `null` inside it NaN.
pub fn opt_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
    Option::<[Option<f64>; 2]>::deserialize(d).map(|o| o.map(|[a, b]| [nan_if_none(a), nan_if_none(b)]))
}

/// A list of numbers, each `null` read as NaN.
pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Vec::<Option<f64>>::deserialize(d).map(|v| v.into_iter().map(nan_if_none).collect())
}

/// A list of intervals, each `null` read as NaN.
pub fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[f64; 2]>, D::Error> {
    Vec::<[Option<f64>; 2]>::deserialize(d)
        .map(|v| v.into_iter().map(|[a, b]| [nan_if_none(a), nan_if_none(b)]).collect())
}

/// Rows of numbers, each `null` read as NaN.
pub fn matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    Vec::<Vec<Option<f64>>>::deserialize(d)
        .map(|m| m.into_iter().map(|r| r.into_iter().map(nan_if_none).collect()).collect())
}

/// `(unit, rho, q)` triples (multimodality's most correlated units), `null` read as NaN.
pub fn unit_pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(usize, f64, f64)>, D::Error> {
    Vec::<(usize, Option<f64>, Option<f64>)>::deserialize(d)
        .map(|v| v.into_iter().map(|(u, a, b)| (u, nan_if_none(a), nan_if_none(b))).collect())
}

/// `(word, unit, d)` triples (the typographic analysis's word units), `null` read as NaN.
pub fn word_units<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, usize, f64)>, D::Error> {
    Vec::<(String, usize, Option<f64>)>::deserialize(d)
        .map(|v| v.into_iter().map(|(w, u, x)| (w, u, nan_if_none(x))).collect())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Numbers {
        #[serde(deserialize_with = "super::f64")]
        x: f64,
        #[serde(deserialize_with = "super::pair")]
        ci: [f64; 2],
        #[serde(deserialize_with = "super::opt_pair")]
        maybe: Option<[f64; 2]>,
        #[serde(deserialize_with = "super::matrix")]
        grid: Vec<Vec<f64>>,
    }

    #[test]
    fn undefined_numbers_survive_a_round_trip_as_nan() {
        let n = Numbers {
            x: f64::NAN,
            ci: [1.0, f64::INFINITY],
            maybe: Some([f64::NAN, 2.0]),
            grid: vec![vec![f64::NAN, 3.0]],
        };
        let text = serde_json::to_string(&n).unwrap();
        assert_eq!(text, r#"{"x":null,"ci":[1.0,null],"maybe":[null,2.0],"grid":[[null,3.0]]}"#);
        let back: Numbers = serde_json::from_str(&text).unwrap();
        assert!(back.x.is_nan() && back.ci[0] == 1.0 && back.ci[1].is_nan());
        assert!(back.maybe.is_some_and(|m| m[0].is_nan() && m[1] == 2.0));
        assert!(back.grid[0][0].is_nan() && back.grid[0][1] == 3.0);
        let none: Numbers = serde_json::from_str(r#"{"x":1.5,"ci":[null,null],"maybe":null,"grid":[]}"#).unwrap();
        assert!(none.maybe.is_none() && none.x == 1.5);
    }
}
