# Hedgerow's one image: the `hedgerow` binary (every role: synchronizer, worker, router, up, status, ...), the
# example models at /opt/hedgerow/Models and the example desired state at /opt/hedgerow/Configs.
#
#   docker build -t hedgerow:dev .
#   docker run --rm --network host hedgerow:dev up     # `make up` in a container (it listens on 127.0.0.1 only)
# Deploy/compose.yaml runs the roles one per container, Deploy/kubernetes/ one per pod (docs/kubernetes.md).
#
# Build stage: the same steps as README.md's set-up on a fresh Debian machine with Swift 6: the Makefile's `deps`
# target (its APT_PACKAGES, installed by `make deps` itself, so the list lives in one place), then the Makefile's
# release build, `swift build -c release --product hedgerow`. The Swift toolchain is the one the project is built
# and tested with (6.3): the current releases of the packages Package.swift names need Swift tools-version 6.2.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# `make` itself: the Swift image has no make, and the Makefile is what installs the build's packages.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
RUN make deps && rm -rf /var/lib/apt/lists/*
# The whole tree (less .dockerignore): Package.swift's test targets need their directories under Tests/ to exist.
COPY . .
RUN swift build -c release --product hedgerow
# The binary links the Swift runtime dynamically (the same build as `make release`; not --static-swift-stdlib):
# stage exactly the Swift libraries it resolves to (libswiftCore, Foundation, Dispatch, ICU data, ...), found
# with ldd, for the runtime stage. Anything else it needs comes from Debian there (libopenblas0).
RUN mkdir -p /staging/bin /staging/swift-lib \
    && cp .build/release/hedgerow /staging/bin/hedgerow \
    && ldd .build/release/hedgerow | awk '$3 ~ /\/swift\// { print $3 }' | sort -u | xargs -r cp -v -t /staging/swift-lib/ \
    && test -e /staging/swift-lib/libswiftCore.so

FROM ${RUNTIME_IMAGE}
# libopenblas0: BLAS (pulls libgfortran5 and libquadmath0); libstdc++6, libgcc-s1 and libc6 are in the base image.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopenblas0 >/dev/null \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/swift-lib/ /usr/lib/swift/linux/
RUN echo /usr/lib/swift/linux > /etc/ld.so.conf.d/swift.conf && ldconfig
COPY --from=build /staging/bin/hedgerow /usr/local/bin/hedgerow
# Fail the build, not the pod, if a library is missing.
RUN if ldd /usr/local/bin/hedgerow | grep 'not found'; then exit 1; fi && hedgerow --help >/dev/null

# Non-root, with a fixed uid/gid (10001) that the Kubernetes manifests' securityContext names. The binary writes
# only the router's --routes-cache file (/var/cache/hedgerow, owned by the user, so a Docker volume there
# inherits the ownership) and, for `hedgerow up`, files under /tmp: the root filesystem can be read-only.
RUN groupadd --gid 10001 hedgerow \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin hedgerow \
    && mkdir -p /var/cache/hedgerow && chown 10001:10001 /var/cache/hedgerow

# The example model repository and desired state. Relative paths work from the working directory as in the
# repository: `--desired Configs/desired-state.yaml` (its `repository: ../Models`) and `--repository Models`.
WORKDIR /opt/hedgerow
COPY --chown=root:root Models/ /opt/hedgerow/Models/
COPY --chown=root:root Configs/ /opt/hedgerow/Configs/

USER 10001:10001
# 8500 router, 8600 synchronizer, 8701 worker (each role listens on one port: API, health and /metrics).
EXPOSE 8500 8600 8701
ENTRYPOINT ["hedgerow"]
CMD ["--help"]
