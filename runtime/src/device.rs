//! Which device a pipeline runs on.

use crate::error::RuntimeError;
use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;

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
pub struct WgpuDevice {
    pub device: Device,
    /// The adapter's name and driver, for logs.
    pub adapter: String,
    /// A software rasterizer (lavapipe) rather than a GPU.
    pub is_software: bool,
}

/// Opens burn's default wgpu device, reporting a machine without a usable adapter as an error.
pub fn open_wgpu() -> Result<WgpuDevice, RuntimeError> {
    let (device, setup) =
        Device::wgpu_options().init_with_setup().map_err(|e| RuntimeError::DeviceInit(e.to_string()))?;
    let info = setup.adapter.get_info();
    Ok(WgpuDevice {
        device,
        adapter: format!("{} ({:?}, {} {})", info.name, info.backend, info.driver, info.driver_info),
        is_software: info.device_type == wgpu::DeviceType::Cpu,
    })
}
