//! Typed method parameters: how a handler turns a request's `params` into a struct.
//!
//! A management call that is misread is worse than one that is refused: a misspelled key or a
//! value of the wrong type must never fall back to a default (a `flow/del` whose match is lost
//! would delete every flow). So every method declares the keys it takes ([`FromParams::KEYS`])
//! and reads each one with a type ([`Params::required`], [`Params::optional`]); [`decode`]
//! refuses any other key, and every failure is an `INVALID_PARAMS` error that names the key.
//! Decoding is per key (serde for the value only) rather than one `Deserialize` of the whole
//! object because serde's errors for a value of the wrong type do not say which key it was.

use super::RpcError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt::Display;
use std::ops::RangeInclusive;

/// A method's parameters, read from the request's `params` object.
pub trait FromParams: Sized {
    /// Every key the method accepts; [`decode`] refuses any other before
    /// [`FromParams::from_params`] runs.
    const KEYS: &'static [&'static str];

    /// Read the fields out of `p` (and check how they go together).
    fn from_params(p: &mut Params) -> Result<Self, RpcError>;
}

/// Methods that take no parameters: `params` must be absent, `null`, `{}` or `[]`.
impl FromParams for () {
    const KEYS: &'static [&'static str] = &[];

    fn from_params(_: &mut Params) -> Result<(), RpcError> {
        Ok(())
    }
}

/// Decode a handler's `params` into `T`. Unknown keys, missing required keys and values of the
/// wrong type or out of range are `INVALID_PARAMS` errors naming the key.
pub fn decode<T: FromParams>(params: Value) -> Result<T, RpcError> {
    let mut p = Params::new(params)?;
    if let Some(key) = p.members.keys().find(|k| !T::KEYS.contains(&k.as_str())) {
        let takes = if T::KEYS.is_empty() {
            "this method takes no parameters".to_string()
        } else {
            format!("expected one of: {}", T::KEYS.join(", "))
        };
        return Err(RpcError::invalid_params(format!(
            "unknown parameter \"{key}\" ({takes})"
        )));
    }
    T::from_params(&mut p)
}

/// The members of a params object, taken out one key at a time.
#[derive(Debug, Default)]
pub struct Params {
    members: Map<String, Value>,
}

impl Params {
    /// Wrap `params`: an object, or nothing (`null`, `[]`). Positional parameters are refused:
    /// every method's parameters have names.
    pub fn new(params: Value) -> Result<Params, RpcError> {
        match params {
            Value::Object(members) => Ok(Params { members }),
            Value::Null => Ok(Params::default()),
            Value::Array(a) if a.is_empty() => Ok(Params::default()),
            _ => Err(RpcError::invalid_params(
                "params must be an object of named parameters",
            )),
        }
    }

    /// The value of `key`, which must be present (and not `null`).
    pub fn required<T: DeserializeOwned>(&mut self, key: &str) -> Result<T, RpcError> {
        self.optional(key)?
            .ok_or_else(|| RpcError::invalid_params(format!("missing \"{key}\"")))
    }

    /// The value of `key`, `None` when absent or `null`.
    pub fn optional<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, RpcError> {
        match self.members.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| RpcError::invalid_params(format!("\"{key}\": {e}"))),
        }
    }

    /// A boolean `key`, `false` when absent or `null`.
    pub fn flag(&mut self, key: &str) -> Result<bool, RpcError> {
        Ok(self.optional(key)?.unwrap_or(false))
    }

    /// The value of `key` (`None` when absent or `null`), which must lie in `range`.
    pub fn optional_in<T>(
        &mut self,
        key: &str,
        range: RangeInclusive<T>,
    ) -> Result<Option<T>, RpcError>
    where
        T: DeserializeOwned + PartialOrd + Display,
    {
        match self.optional(key)? {
            Some(v) if !range.contains(&v) => Err(RpcError::invalid_params(format!(
                "\"{key}\": {v} is out of range {}..={}",
                range.start(),
                range.end()
            ))),
            v => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::INVALID_PARAMS;
    use serde_json::json;

    #[derive(Debug, PartialEq)]
    struct Del {
        bridge: String,
        strict: bool,
        limit: Option<u32>,
    }

    impl FromParams for Del {
        const KEYS: &'static [&'static str] = &["bridge", "strict", "limit"];

        fn from_params(p: &mut Params) -> Result<Self, RpcError> {
            Ok(Del {
                bridge: p.required("bridge")?,
                strict: p.flag("strict")?,
                limit: p.optional_in("limit", 1..=100)?,
            })
        }
    }

    fn err<T: FromParams + std::fmt::Debug>(v: Value) -> String {
        let e = decode::<T>(v).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS, "{e:?}");
        e.message
    }

    #[test]
    fn typed_fields_and_defaults() {
        let d: Del = decode(json!({"bridge": "br0"})).unwrap();
        let want = Del {
            bridge: "br0".into(),
            strict: false,
            limit: None,
        };
        assert_eq!(d, want);
        let d: Del = decode(json!({"bridge": "br0", "strict": null, "limit": 100})).unwrap();
        assert_eq!(d.limit, Some(100));
        assert!(
            decode::<Del>(json!({"bridge": "b", "strict": true}))
                .unwrap()
                .strict
        );
    }

    #[test]
    fn every_failure_names_its_key() {
        assert_eq!(
            err::<Del>(json!({"bridge": "br0", "strikt": true})),
            "unknown parameter \"strikt\" (expected one of: bridge, strict, limit)"
        );
        assert_eq!(err::<Del>(json!({})), "missing \"bridge\"");
        assert_eq!(err::<Del>(json!({"bridge": null})), "missing \"bridge\"");
        assert_eq!(
            err::<Del>(json!({"bridge": "b", "strict": "yes"})),
            "\"strict\": invalid type: string \"yes\", expected a boolean"
        );
        assert_eq!(
            err::<Del>(json!({"bridge": []})),
            "\"bridge\": invalid type: sequence, expected a string"
        );
        assert_eq!(
            err::<Del>(json!({"bridge": "b", "limit": 0})),
            "\"limit\": 0 is out of range 1..=100"
        );
        assert!(err::<Del>(json!({"bridge": "b", "limit": -1})).starts_with("\"limit\": "));
        assert_eq!(
            err::<Del>(json!(["br0"])),
            "params must be an object of named parameters"
        );
    }

    #[test]
    fn no_params_means_none_at_all() {
        for ok in [json!({}), Value::Null, json!([])] {
            decode::<()>(ok).unwrap();
        }
        assert_eq!(
            err::<()>(json!({"bridge": "br0"})),
            "unknown parameter \"bridge\" (this method takes no parameters)"
        );
    }
}
