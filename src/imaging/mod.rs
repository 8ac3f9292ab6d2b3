//! Images in and out of pixels, the same way for every layer that touches them: strict,
//! bounded decoding ([`decode`]) and CLIP's reference resizing ([`resize`]). It knows no model,
//! so the stimuli can draw composites on the images the model will see without depending on
//! the model layer.
//! [`fv`] is feature visualisation's image side: Fourier parameterisation, transforms, Adam.

pub mod decode;
pub mod fv;
pub mod resize;
