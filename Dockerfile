# The clip-audit image (the one README's Kubernetes and GitLab examples name): the binary,
# ONNX Runtime's CPU library from its PyPI wheel, and the shipped audits and probe libraries.
#   docker build -t your-registry/clip-audit:latest .
#   docker run --rm -v "$PWD:/work" -w /work your-registry/clip-audit clip-audit validate audits/demo.yaml
ARG ORT_VERSION=1.31.1

FROM rust:1.92-bookworm AS build
ARG ORT_VERSION
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
    && mkdir -p /out \
    && cp target/release/clip-audit /out/clip-audit

FROM python:3.11-slim-bookworm AS ort
ARG ORT_VERSION
RUN pip download --quiet --no-deps --only-binary=:all: "onnxruntime==${ORT_VERSION}" -d /wheel \
    && python -m zipfile -e /wheel/onnxruntime-*.whl /unpacked \
    && mkdir -p /out \
    && cp "/unpacked/onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}" /out/

FROM debian:bookworm-slim
ARG ORT_VERSION
# libonnxruntime needs glibc and libstdc++, both in the slim image; nothing else is installed.
RUN useradd --create-home --uid 10001 audit
COPY --from=build /out/clip-audit /usr/local/bin/clip-audit
COPY --from=ort /out/ /opt/onnxruntime/
COPY audits /opt/clip-audit/audits
COPY probes /opt/clip-audit/probes
COPY fixtures/models /opt/clip-audit/fixtures/models
COPY fixtures/images /opt/clip-audit/fixtures/images
COPY fixtures/fairface-standin /opt/clip-audit/fixtures/fairface-standin
COPY fixtures/organism-images /opt/clip-audit/fixtures/organism-images
ENV ORT_DYLIB_PATH=/opt/onnxruntime/libonnxruntime.so.${ORT_VERSION}
USER 10001
WORKDIR /opt/clip-audit
CMD ["clip-audit", "--help"]
