//! Which device a pipeline runs on.

use crate::error::RuntimeError;
use burn::tensor::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend (`flex`).
    #[default]
    Cpu,
    /// The best wgpu adapter (a GPU through Vulkan, or lavapipe on machines without one).
    Wgpu,
}

impl DeviceChoice {
    pub fn parse(text: &str) -> Result<Self, RuntimeError> {
        match text {
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            other => Err(RuntimeError::UnknownDevice(other.to_string())),
        }
    }

    pub fn device(self) -> Device {
        match self {
            DeviceChoice::Cpu => Device::flex(),
            DeviceChoice::Wgpu => Device::wgpu(Default::default()),
        }
    }
}
