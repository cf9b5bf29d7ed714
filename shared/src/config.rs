//! Reading a function's configuration from its environment, once, naming what is wrong.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, StepError};

/// Where configuration comes from: the process environment in Lambda, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment. Empty values count as unset, as CloudFormation leaves them empty.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.trim().is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl StepError for ConfigError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

pub fn required(source: &dyn Source, name: &'static str) -> Result<String, ConfigError> {
    source.get(name).ok_or(ConfigError::Missing(name))
}

pub fn optional(source: &dyn Source, name: &'static str) -> Option<String> {
    source.get(name)
}

/// A parsed value, or `default` when unset.
pub fn parsed<T>(source: &dyn Source, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match source.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: format!("{raw:?}: {e}"),
            }),
    }
}

/// A required JSON value, with the position of any mistake inside it.
pub fn json<T: DeserializeOwned>(
    source: &dyn Source,
    name: &'static str,
) -> Result<T, ConfigError> {
    let raw = required(source, name)?;
    let mut deserializer = serde_json::Deserializer::from_str(&raw);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| ConfigError::Invalid {
        name,
        reason: format!("at {}: {}", e.path(), e.inner()),
    })
}

/// The two regions of the recovery plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regions {
    pub primary: String,
    pub dr: String,
}

impl Regions {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let regions = Regions {
            primary: required(source, "PRIMARY_REGION")?,
            dr: required(source, "DR_REGION")?,
        };
        for (name, region) in [
            ("PRIMARY_REGION", &regions.primary),
            ("DR_REGION", &regions.dr),
        ] {
            if !is_region_name(region) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!(
                        "{region:?} is not an AWS Region name (for example eu-central-1)"
                    ),
                });
            }
        }
        if regions.primary == regions.dr {
            return Err(ConfigError::Invalid {
                name: "DR_REGION",
                reason: format!("is the same as PRIMARY_REGION ({})", regions.primary),
            });
        }
        Ok(regions)
    }
}

/// An AWS Region name as AWS writes them: lowercase letter groups joined by hyphens, ending in a
/// number (`eu-central-1`, `us-gov-west-1`, `ap-southeast-5`).
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_required_variable_is_missing_should_name_it() {
        let env = [("PRIMARY_REGION", "eu-west-1")];
        assert_eq!(
            Regions::from_source(&env),
            Err(ConfigError::Missing("DR_REGION"))
        );
    }

    #[test]
    fn a_region_name_must_look_like_one() {
        for good in [
            "eu-central-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "cn-north-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "eu-central",
            "EU-central-1",
            "eu_central_1",
            "frankfurt",
            "eu--1",
            "-1",
            "",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
        let env = [("PRIMARY_REGION", "eu-west-1"), ("DR_REGION", "Frankfurt")];
        let error = Regions::from_source(&env).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    name: "DR_REGION",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn when_regions_are_equal_should_refuse_the_plan() {
        let env = [("PRIMARY_REGION", "eu-west-1"), ("DR_REGION", "eu-west-1")];
        let error = Regions::from_source(&env).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Invalid {
                name: "DR_REGION",
                ..
            }
        ));
    }

    #[test]
    fn when_a_number_is_malformed_should_name_the_variable_and_value() {
        let env = [("DB_MAX_REPLICA_LAG_SECONDS", "five")];
        let error = parsed::<u64>(&env, "DB_MAX_REPLICA_LAG_SECONDS", 300).unwrap_err();
        assert!(error.to_string().contains("DB_MAX_REPLICA_LAG_SECONDS"));
        assert!(error.to_string().contains("five"));
    }

    #[test]
    fn when_json_is_wrong_should_say_where() {
        let env = [("ASG_TARGETS", r#"[{"group": 5}]"#)];
        let error = json::<Vec<std::collections::BTreeMap<String, String>>>(&env, "ASG_TARGETS")
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("ASG_TARGETS") && text.contains("[0]"),
            "{text}"
        );
    }
}
