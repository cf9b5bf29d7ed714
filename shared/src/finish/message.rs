//! What a published message says: a first paragraph a person on call reads, then the report.
//!
//! Every message the finishing step publishes is, in UTF-8:
//!
//! ```text
//! <the first paragraph: one or more lines of text, none of them empty>
//! <an empty line>
//! <the report: one line of compact JSON, an object>
//! ```
//!
//! The paragraph says what happened (deployment, outcome, region, run), what to do next with the
//! exact commands the report holds (each `dr-failover` form, `<name>_cli_command`, beside its AWS
//! CLI one: `finish`, `retry`, `force`, `rerun`, `failover`, `resume`, `enable_command`, a
//! blocking run's `stop_command`), and the run's Step
//! Functions console link. Every value put into it has its line breaks and other control
//! characters turned into spaces, so it never holds an empty line; compact JSON never holds a
//! line break (JSON escapes them inside strings). So the report is the message's **last line**,
//! and the paragraph is everything before the first empty line: the rule every reader of the
//! messages follows (`infra/drill/drill/messages.py`, the README's "What the messages look like").
//!
//! With `CHAT_NOTIFICATIONS=chatbot` the message is published with `MessageStructure=json`
//! ([Publish](https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): the message is then a
//! JSON object with at least a `default` key whose value is a string; each other key names a
//! protocol): `default` (every protocol but https: email, SQS, ...) is the message above, and
//! `https`, the protocol AWS Chatbot (Amazon Q Developer in chat applications) subscribes with,
//! is a custom notification ([`chatbot`], "Custom notifications",
//! <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>) whose description
//! is the paragraph and whose next steps are the commands.

use serde_json::{json, Value};

use super::{truncated, Machine, RunContext};

/// SNS's limit on a message: 262,144 bytes of UTF-8 ("Publish", `Message`). With
/// `MessageStructure=json` it holds for the whole JSON object, every protocol's text in it.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// At most this many characters of an error's cause, a reason, or one refusal in the paragraph
/// (the report holds them whole).
const MAX_QUOTED_CHARS: usize = 400;

/// At most this many refusals are quoted in the paragraph (the report lists them all).
const MAX_REFUSALS_QUOTED: usize = 3;

/// What a readiness run that refuses asks of a person (its report has no `next_step`).
const READINESS_NEXT_STEP: &str = "Fix what each refusal names (the report lists them by step, \
with each step's plan): until then a failover would be refused, or would not start. Readiness runs \
again on its schedule and publishes once it changes.";

/// The report's commands a person runs next, in the order the paragraph lists them: for each
/// step its `dr-failover` form first (`<name>_cli_command`), then the AWS CLI one. Each is a
/// complete shell command, as the report gives it. Any other top-level `*_command` of a report
/// follows, in the report's order.
const COMMANDS: [&str; 13] = [
    "finish_cli_command",
    "finish_command",
    "retry_cli_command",
    "retry_command",
    "force_cli_command",
    "force_command",
    "rerun_cli_command",
    "rerun_command",
    "failover_cli_command",
    "failover_command",
    "resume_cli_command",
    "resume_command",
    "enable_command",
];

/// How messages are published: `CHAT_NOTIFICATIONS`, `none` (default) or `chatbot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChatFormat {
    /// One message for every protocol: the paragraph, an empty line, the report.
    #[default]
    None,
    /// `MessageStructure=json`: that message as `default`, an AWS Chatbot custom notification as
    /// `https`.
    Chatbot,
}

impl ChatFormat {
    /// `none` or `chatbot`; anything else is `None` (the caller names the variable).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(ChatFormat::None),
            "chatbot" => Some(ChatFormat::Chatbot),
            _ => None,
        }
    }
}

/// The first paragraph of a run's message, in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The subject it is published under (`[dr-failover] <deployment>: <headline>`).
    pub title: String,
    /// What happened and what to do, one sentence group a line.
    pub lines: Vec<String>,
    /// The commands to run next, each `<name>: <command>` (`retry_command: aws stepfunctions
    /// start-execution --region ...`).
    pub next_steps: Vec<String>,
    /// The run's Step Functions console page ([`console_link`]).
    pub console: String,
}

impl Notice {
    /// The paragraph: its lines, the commands, then `Console: <link>`, one a line.
    pub fn paragraph(&self) -> String {
        let mut out: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        out.extend(self.next_steps.iter().map(String::as_str));
        let console = format!("Console: {}", self.console);
        out.push(&console);
        out.join("\n")
    }
}

/// The Step Functions console's page of an execution:
/// `https://<region>.console.aws.amazon.com/states/home?region=<region>#/v2/executions/details/<arn>`.
pub fn console_link(region: &str, execution_arn: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"
    )
}

/// `text` on one line: every control character (line breaks, tabs) becomes a space.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn quoted(text: &str) -> String {
    let line = one_line(text);
    let cut = truncated(&line, MAX_QUOTED_CHARS);
    if cut.len() < line.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

fn machine_name(machine: Machine) -> &'static str {
    match machine {
        Machine::Failover => "failover",
        Machine::Failback => "fail back",
        Machine::Reprotect => "re-protect",
        Machine::Readiness => "readiness",
    }
}

/// Every refusal the report names: each step's `refusals` under `plan` (failover, fail back,
/// re-protect) or `steps` (readiness), and the automation's.
fn refusals(report: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for section in ["plan", "steps"] {
        if let Some(steps) = report.get(section).and_then(Value::as_object) {
            for step in steps.values() {
                if let Some(list) = step.get("refusals").and_then(Value::as_array) {
                    found.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
                }
            }
        }
    }
    if let Some(list) = report
        .pointer("/automation/refusals")
        .and_then(Value::as_array)
    {
        found.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    found
}

/// The paragraph of a run's report: `subject` as published, `headline` the part after the
/// deployment's name.
pub fn notice(
    machine: Machine,
    subject: &str,
    deployment: &str,
    headline: &str,
    report: &Value,
    run: &RunContext,
) -> Notice {
    let text = |pointer: &str| report.pointer(pointer).and_then(Value::as_str);
    let mut lines = Vec::new();
    let reason = text("/request/reason")
        .or_else(|| text("/input/reason"))
        .map(|reason| format!(", reason \"{}\"", quoted(reason)))
        .unwrap_or_default();
    lines.push(format!(
        "{}: {}. The {} run {} in {}{reason}.",
        one_line(deployment),
        one_line(headline),
        machine_name(machine),
        one_line(&run.name),
        run.region(),
    ));
    if let (Some(error), cause) = (text("/error/Error"), text("/error/Cause")) {
        let cause = cause
            .filter(|cause| !cause.is_empty())
            .map(|cause| format!(": {}", quoted(cause)))
            .unwrap_or_default();
        lines.push(format!("Error {}{cause}", one_line(error)));
    }
    let refused = refusals(report);
    if !refused.is_empty() {
        let shown: Vec<String> = refused
            .iter()
            .take(MAX_REFUSALS_QUOTED)
            .map(|r| quoted(r))
            .collect();
        let more = match refused.len().saturating_sub(MAX_REFUSALS_QUOTED) {
            0 => String::new(),
            n => format!(" (and {n} more in the report)"),
        };
        lines.push(format!(
            "Refused ({}): {}{more}",
            refused.len(),
            shown.join("; ")
        ));
    }
    let mut guidance: Vec<String> = ["/next_step", "/note"]
        .iter()
        .filter_map(|pointer| text(pointer))
        .map(one_line)
        .collect();
    if guidance.is_empty() && machine == Machine::Readiness && !refused.is_empty() {
        guidance.push(READINESS_NEXT_STEP.to_owned());
    }
    if !guidance.is_empty() {
        lines.push(format!("What to do: {}", guidance.join(" ")));
    }
    let others = report
        .as_object()
        .into_iter()
        .flat_map(|fields| fields.keys())
        .map(String::as_str)
        .filter(|name| name.ends_with("_command") && !COMMANDS.contains(name));
    let mut next_steps: Vec<String> = COMMANDS
        .iter()
        .copied()
        .chain(others)
        .filter_map(|name| {
            text(&format!("/{name}")).map(|cmd| format!("{name}: {}", one_line(cmd)))
        })
        .collect();
    if let Some(stop) =
        text("/concurrency/blocked_by/stop_command").or_else(|| text("/blocked_by/stop_command"))
    {
        next_steps.push(format!("stop_command: {}", one_line(stop)));
    }
    Notice {
        title: one_line(subject),
        lines,
        next_steps,
        console: console_link(run.region(), &run.execution),
    }
}

/// The message for every protocol: the paragraph, an empty line, the report as compact JSON.
pub fn body(notice: &Notice, report: &Value) -> String {
    format!("{}\n\n{}", notice.paragraph(), report)
}

/// An AWS Chatbot custom notification of `notice` ("Custom notifications", event schema,
/// <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>): `version` "1.0",
/// `source` "custom", `content` (`textType` "client-markdown", `title` the subject,
/// `description` the paragraph's lines and the console link, `nextSteps` the commands, as code
/// when they hold no backtick, `keywords` the deployment and outcome), and `metadata`
/// (`threadId` the execution's ARN, so one run's messages share a thread; `summary` the subject;
/// `eventType` the outcome).
pub fn chatbot(notice: &Notice, deployment: &str, outcome: &str, run: &RunContext) -> Value {
    let mut description = notice.lines.join("\n");
    description.push_str(&format!("\nConsole: {}", notice.console));
    let next_steps: Vec<String> = notice
        .next_steps
        .iter()
        .map(|step| match step.split_once(": ") {
            Some((name, command)) if !command.contains('`') => format!("{name}: `{command}`"),
            _ => step.clone(),
        })
        .collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": notice.title,
            "description": description,
            "nextSteps": next_steps,
            "keywords": [deployment, outcome],
        },
        "metadata": {
            "threadId": run.execution,
            "summary": notice.title,
            "eventType": outcome,
            "relatedResources": [run.execution],
        },
    })
}

/// What [`super::handle`] publishes: the `Message`, and `MessageStructure` when it is `json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub message: String,
    pub structure: Option<&'static str>,
}

/// The publication of `notice` and `report` in `format`. A chatbot message whose JSON object
/// would pass SNS's [`MAX_MESSAGE_BYTES`] (it holds the report twice over, escaped) is published
/// as the plain message instead, so that its size never stops a report that fits alone.
pub fn publication(
    format: ChatFormat,
    notice: &Notice,
    report: &Value,
    deployment: &str,
    run: &RunContext,
) -> Publication {
    let plain = body(notice, report);
    if format == ChatFormat::Chatbot {
        let outcome = report
            .get("outcome")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let structured = json!({
            "default": plain,
            "https": chatbot(notice, deployment, outcome, run).to_string(),
        })
        .to_string();
        if structured.len() <= MAX_MESSAGE_BYTES {
            return Publication {
                message: structured,
                structure: Some("json"),
            };
        }
    }
    Publication {
        message: plain,
        structure: None,
    }
}
