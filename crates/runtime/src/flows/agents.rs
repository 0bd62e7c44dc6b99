//! The app's agent editor: publish an agent from its fields (the source file
//! kept in the data home's `agents/`), see which flows pin which version, and
//! move a flow's pin to another published version.

use serde::{Deserialize, Serialize};

use crate::flows::{valid_flow_name, AgentVersion, FlowEntry};
use codexos_flow::ports::AgentSpec;

use crate::{Error, Result, Runtime};

/// One agent node of a flow in the flows folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AgentPin {
    /// Flow name.
    pub flow: String,
    /// Node id.
    pub node: String,
    /// Agent name.
    pub agent: String,
    /// The version pinned (none: the node names no version, which the check
    /// refuses).
    pub version: Option<String>,
}

impl Runtime {
    /// Publishes an agent from its fields: the source is written to the data
    /// home's `agents/NAME.agent.json` (what `codexos agents publish` reads),
    /// then published as an immutable version — the same checks as a file
    /// (semver, tools that exist, a version not published yet).
    pub fn publish_agent_spec(&self, spec: &AgentSpec) -> Result<AgentVersion> {
        let folder = self.home.root().join("agents");
        if !valid_flow_name(&spec.name) {
            return Err(Error::AgentFile {
                path: folder.join(format!("{}.agent.json", spec.name)),
                message: "the name must be letters, digits, `-` and `_` (it names the file)"
                    .to_owned(),
            });
        }
        let path = folder.join(format!("{}.agent.json", spec.name));
        let io = |source| Error::Home {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&folder).map_err(io)?;
        let mut text = serde_json::to_string_pretty(spec).map_err(|error| Error::AgentFile {
            path: path.clone(),
            message: error.to_string(),
        })?;
        text.push('\n');
        // Published from a draft beside it: a refused publish (a taken
        // version, an unknown tool) leaves the last published source alone.
        let draft = folder.join(format!(".{}.agent.json.draft", spec.name));
        std::fs::write(&draft, text).map_err(io)?;
        match self.publish_agent(&draft) {
            Ok(published) => {
                std::fs::rename(&draft, &path).map_err(io)?;
                Ok(published)
            }
            Err(error) => {
                let _ = std::fs::remove_file(&draft);
                Err(error)
            }
        }
    }

    /// Every agent node of the flows in the flows folder, with the version
    /// it pins (unreadable flow files are left out).
    pub fn agent_pins(&self) -> Result<Vec<AgentPin>> {
        let mut pins = Vec::new();
        for entry in self.flow_library()? {
            let Some(flow) = entry.flow else { continue };
            for node in &flow.nodes {
                if let codexos_flow::model::NodeKind::Agent { agent, .. } = &node.kind {
                    let (name, version) = agent
                        .split_once('@')
                        .map_or((agent.as_str(), None), |(name, version)| {
                            (name, Some(version.to_owned()))
                        });
                    pins.push(AgentPin {
                        flow: flow.name.clone(),
                        node: node.id.clone(),
                        agent: name.to_owned(),
                        version,
                    });
                }
            }
        }
        Ok(pins)
    }

    /// Moves every node of flow `flow` that uses agent `agent` to the
    /// published `version`; the flow file is rewritten and a version saved.
    pub fn repin_agent(&self, flow: &str, agent: &str, version: &str) -> Result<FlowEntry> {
        let target = self.agent(&format!("{agent}@{version}"))?;
        let path = self.library_file(flow)?;
        let mut parsed = crate::flows::read_flow(&path)?;
        let pinned = format!("{}@{}", target.name, target.version);
        let mut moved = 0;
        for node in &mut parsed.nodes {
            if let codexos_flow::model::NodeKind::Agent {
                agent: reference, ..
            } = &mut node.kind
            {
                let name = reference.split('@').next().unwrap_or_default();
                if name == agent && *reference != pinned {
                    reference.clone_from(&pinned);
                    moved += 1;
                }
            }
        }
        if moved == 0 {
            return Err(Error::InvalidTurn {
                message: format!("flow `{flow}` has no node on another version of agent `{agent}` — nothing to move"),
            });
        }
        let (path, _) = self.save_flow(&parsed)?;
        Ok(FlowEntry {
            name: parsed.name.clone(),
            path: path.to_string_lossy().into_owned(),
            flow: Some(parsed),
            error: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use codexos_flow::ports::AgentSpec;

    use crate::{Error, Home, Runtime};

    fn spec(version: &str, tools: &[&str]) -> AgentSpec {
        AgentSpec {
            schema: None,
            name: "helper".into(),
            version: version.into(),
            description: "Helps.".into(),
            system: "You help.".into(),
            tools: tools.iter().map(|tool| (*tool).to_owned()).collect(),
            context_project: None,
            model: None,
            max_steps: 2,
            memory: false,
        }
    }

    #[test]
    fn an_agent_is_published_from_its_fields_and_flows_move_to_a_new_pin() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime: Arc<Runtime> =
            Runtime::open(Home::new(home.path().join("home"), None)).expect("runtime");
        // The examples: plan-execute pins planner and executor.
        let pins = runtime.agent_pins().expect("pins");
        assert!(
            pins.iter().any(|pin| pin.flow == "plan-execute"
                && pin.agent == "planner"
                && pin.version.as_deref() == Some("1.0.0")),
            "{pins:?}"
        );

        let published = runtime
            .publish_agent_spec(&spec("1.0.0", &["fs.list"]))
            .expect("published");
        assert_eq!(published.version, "1.0.0");
        assert!(home.path().join("home/agents/helper.agent.json").is_file());
        let source = std::fs::read_to_string(home.path().join("home/agents/helper.agent.json"))
            .expect("source");
        // Same version again: refused, naming the next one.
        let again = runtime
            .publish_agent_spec(&spec("1.0.0", &["fs.list"]))
            .expect_err("immutable");
        assert!(
            matches!(again, Error::AgentExists { ref next, .. } if next == "1.0.1"),
            "{again}"
        );
        let mut changed = spec("1.0.0", &["fs.list"]);
        changed.system = "Something else.".into();
        assert!(runtime.publish_agent_spec(&changed).is_err());
        assert_eq!(
            std::fs::read_to_string(home.path().join("home/agents/helper.agent.json"))
                .expect("source"),
            source,
            "a refused publish leaves the source alone"
        );
        // A tool that does not exist, a bad version, a bad name: refused.
        let unknown = runtime
            .publish_agent_spec(&spec("1.1.0", &["no.such.tool"]))
            .expect_err("unknown tool");
        assert!(unknown.to_string().contains("no.such.tool"), "{unknown}");
        assert!(runtime.publish_agent_spec(&spec("one", &[])).is_err());
        let mut bad_name = spec("1.2.0", &[]);
        bad_name.name = "../escape".into();
        assert!(runtime.publish_agent_spec(&bad_name).is_err());
        assert!(!home.path().join("escape.agent.json").exists());
        assert!(!home.path().join("home/escape.agent.json").exists());

        // A newer planner; the example flow moves to it.
        let mut planner = runtime.agent("planner").expect("planner").spec;
        planner.version = "1.1.0".into();
        runtime.publish_agent_spec(&planner).expect("planner 1.1.0");
        let moved = runtime
            .repin_agent("plan-execute", "planner", "1.1.0")
            .expect("moved");
        let text = std::fs::read_to_string(&moved.path).expect("flow file");
        assert!(
            text.contains("planner@1.1.0") && text.contains("executor@1.0.0"),
            "{text}"
        );
        let history = runtime.flow_history("plan-execute").expect("history");
        let latest = history.last().expect("a version was saved");
        assert!(latest.content.contains("planner@1.1.0"), "{latest:?}");
        // Nothing left to move; an unpublished version is refused.
        assert!(runtime
            .repin_agent("plan-execute", "planner", "1.1.0")
            .is_err());
        assert!(matches!(
            runtime.repin_agent("plan-execute", "planner", "9.9.9"),
            Err(Error::UnknownAgent { .. })
        ));
    }
}
