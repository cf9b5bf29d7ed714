//! Reading a function's configuration from its environment, once, naming what is wrong.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, StepError};

/// Where configuration comes from: the process environment in Lambda, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment, then the recovery plan the deployment ships. Empty values count as
/// unset, as CloudFormation leaves them empty.
///
/// A variable the environment does not set is read from the plan file (what
/// [`crate::plan::render::environment`] derives from it): the one `DR_PLAN_FILE` names, or the
/// layer's [`crate::plan::LAYER_PLAN_FILE`] when that exists. Without either, only the environment
/// counts (the local drill's functions and the tests set every variable). The stack sets in the
/// environment only what it knows and the plan does not (ARNs, the report bucket, SDK bounds) and
/// the plan's version; [`plan_file_status`] refuses a plan file that does not parse or is not
/// that version.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| match shipped_plan() {
                Ok(Some(variables)) => variables.get(name).cloned(),
                _ => None,
            })
    }
}

/// The variables of the plan file this process was deployed with, read once: `Ok(None)` when
/// there is none.
fn shipped_plan() -> &'static Result<Option<BTreeMap<String, String>>, ConfigError> {
    static PLAN: std::sync::OnceLock<Result<Option<BTreeMap<String, String>>, ConfigError>> =
        std::sync::OnceLock::new();
    PLAN.get_or_init(|| {
        let named = std::env::var("DR_PLAN_FILE")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let path = match named {
            Some(path) => path,
            None if std::path::Path::new(crate::plan::LAYER_PLAN_FILE).exists() => {
                crate::plan::LAYER_PLAN_FILE.to_owned()
            }
            None => return Ok(None),
        };
        let expected = std::env::var("PLAN_VERSION")
            .ok()
            .filter(|v| !v.trim().is_empty());
        read_plan_file(&path, expected.as_deref()).map(Some)
    })
}

/// Reads the plan file at `path` (JSON, as `dr-failover plan render` writes it) into its
/// variables. Errors: [`ConfigError::Invalid`] naming `DR_PLAN_FILE` when it cannot be read or
/// parsed, or when `expected_version` is given and the file is another version (a layer and a
/// stack from two different renders).
pub fn read_plan_file(
    path: &str,
    expected_version: Option<&str>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "DR_PLAN_FILE",
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("{path}: {e}")))?;
    let plan: crate::plan::Plan = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{path} is not a rendered plan: {e}")))?;
    let version = plan.version();
    if let Some(expected) = expected_version {
        if expected != version {
            return Err(invalid(format!(
                "{path} is plan version {version}, but the stack was deployed with {expected}                  (PLAN_VERSION): render the plan again and deploy the layer and the stack together"
            )));
        }
    }
    let mut variables = crate::plan::render::environment(&plan);
    variables.insert("PLAN_VERSION".to_owned(), version);
    Ok(variables)
}

/// Whether the shipped plan file, if any, was read: its error, named `DR_PLAN_FILE`, otherwise.
pub fn plan_file_status() -> Result<(), ConfigError> {
    match shipped_plan() {
        Err(error) => Err(error.clone()),
        Ok(_) => Ok(()),
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
