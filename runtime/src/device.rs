//! Which device a pipeline runs on.

use crate::error::RuntimeError;
use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;
use std::sync::OnceLock;

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

/// A wgpu device opened without panicking, and what its adapter is.
#[derive(Clone, Debug)]
pub struct WgpuDevice {
    pub device: Device,
    /// The adapter's name and driver, for logs.
    pub adapter: String,
    /// A software rasterizer (lavapipe) rather than a GPU.
    pub is_software: bool,
}

/// Opens burn's default wgpu device, reporting a machine without a usable adapter as an error.
/// burn's wgpu runtime can be set up once per process: later calls (other server workers)
/// share the first call's device, or its error.
pub fn open_wgpu() -> Result<WgpuDevice, RuntimeError> {
    static OPENED: OnceLock<Result<WgpuDevice, String>> = OnceLock::new();
    let opened = OPENED.get_or_init(|| {
        let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| e.to_string())?;
        let info = setup.adapter.get_info();
        Ok(WgpuDevice {
            device,
            adapter: format!("{} ({:?}, {} {})", info.name, info.backend, info.driver, info.driver_info),
            is_software: info.device_type == wgpu::DeviceType::Cpu,
        })
    });
    opened.clone().map_err(RuntimeError::DeviceInit)
}
