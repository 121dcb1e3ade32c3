//! The pipelines one server holds: a champion and, when the binary was built with one, a
//! challenger of the same inputs and outputs.

use super::engines::{NativeEngine, Scorer};
#[cfg(feature = "gpu")]
use super::gpu_engines::Engines;
#[cfg(feature = "gpu")]
use crate::CompiledPipeline;
use crate::RowPipeline;
use crate::server::config::ServerConfig;
use crate::spec::{OutputRole, PipelineSpec};
use std::sync::Arc;

/// Which of the two pipelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Champion,
    Challenger,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Champion => "champion",
            Role::Challenger => "challenger",
        }
    }
}

/// What one worker thread scores with.
pub struct Models {
    pub champion: Box<dyn Scorer>,
    pub challenger: Option<Box<dyn Scorer>>,
}

impl Models {
    pub fn get(&self, role: Role) -> Option<&dyn Scorer> {
        match role {
            Role::Champion => Some(self.champion.as_ref()),
            Role::Challenger => self.challenger.as_deref(),
        }
    }
}

/// Loads the pipelines onto their devices; every worker calls it on its own thread.
pub type Opener = Arc<dyn Fn(&ServerConfig) -> Result<Models, String> + Send + Sync>;

/// The specs of the two pipelines, known before any worker starts.
#[derive(Clone, Copy)]
pub struct Specs {
    pub champion: &'static PipelineSpec,
    pub challenger: Option<&'static PipelineSpec>,
}

impl Specs {
    pub fn get(&self, role: Role) -> Option<&'static PipelineSpec> {
        match role {
            Role::Champion => Some(self.champion),
            Role::Challenger => self.challenger,
        }
    }
}

/// How a worker loads one pipeline: on every device (`gpu`) or on the native path only.
type Open<S> = fn(&ServerConfig) -> Result<S, String>;

fn single_with<S: Scorer + 'static>(spec: &'static PipelineSpec, open: Open<S>) -> (Specs, Opener) {
    let open: Opener = Arc::new(move |config| Ok(Models { champion: Box::new(open(config)?), challenger: None }));
    (Specs { champion: spec, challenger: None }, open)
}

fn pair_with<S: Scorer + 'static, T: Scorer + 'static>(
    champion: &'static PipelineSpec,
    challenger: &'static PipelineSpec,
    open_champion: Open<S>,
    open_challenger: Open<T>,
) -> Result<(Specs, Opener), String> {
    same_interface(champion, challenger)?;
    let open: Opener = Arc::new(move |config| {
        let champion = Box::new(open_champion(config)?);
        let challenger = open_challenger(config).map_err(|e| format!("the challenger: {e}"))?;
        Ok(Models { champion, challenger: Some(Box::new(challenger)) })
    });
    Ok((Specs { champion, challenger: Some(challenger) }, open))
}

#[cfg(feature = "gpu")]
pub fn single<P: CompiledPipeline + 'static>() -> (Specs, Opener) {
    single_with(P::spec(), Engines::<P>::open)
}

#[cfg(feature = "gpu")]
pub fn with_challenger<P: CompiledPipeline + 'static, C: CompiledPipeline + 'static>() -> Result<(Specs, Opener), String>
{
    pair_with(P::spec(), C::spec(), Engines::<P>::open, Engines::<C>::open)
}

pub fn single_native<R: RowPipeline + 'static>() -> (Specs, Opener) {
    single_with(R::spec(), NativeEngine::<R>::open)
}

pub fn with_challenger_native<R: RowPipeline + 'static, C: RowPipeline + 'static>() -> Result<(Specs, Opener), String> {
    pair_with(R::spec(), C::spec(), NativeEngine::<R>::open, NativeEngine::<C>::open)
}

/// A challenger must take the same inputs and answer with the same outputs as the champion,
/// so that either can answer any request.
pub fn same_interface(champion: &PipelineSpec, challenger: &PipelineSpec) -> Result<(), String> {
    if champion.name != challenger.name {
        return Err(format!("the challenger is pipeline `{}`, the champion `{}`", challenger.name, champion.name));
    }
    if champion.inputs != challenger.inputs {
        return Err("the challenger's inputs differ from the champion's".into());
    }
    let public =
        |spec: &PipelineSpec| spec.outputs.iter().filter(|o| o.role == OutputRole::Output).copied().collect::<Vec<_>>();
    if public(champion) != public(challenger) {
        return Err("the challenger's outputs differ from the champion's".into());
    }
    Ok(())
}
