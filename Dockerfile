# syntax=docker/dockerfile:1
# One image for every Ambit component: `ambit control`, `ambit ztunnel`, `ambit cni-agent` (and
# `ambit waypoint`) are subcommands of one binary. The Helm charts in helm/ run it.

# --- builder: dependencies, the native addon and dist/ ---------------------------------------
FROM node:22-bookworm-slim AS builder
# g++, make and python3: node-gyp builds lib/native against this Node.js's own headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `npm ci` installs the locked dependencies and runs `prepare`: the native addon and dist/. Then
# the dev dependencies (TypeScript, node-gyp, tap, eslint) go.
RUN --mount=type=cache,target=/root/.npm \
    npm ci \
 && test -f lib/native/build/Release/ambit_native.node \
 && test -f dist/cli/main.js \
 && npm prune --omit=dev

# --- runtime ------------------------------------------------------------------------------------
FROM node:22-bookworm-slim
# What the components run: iptables/nftables/ipset and iproute2 (the CNI agent's in-pod rules and
# probe SNAT), conntrack (flushing redirected flows), ca-certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables nftables ipset iproute2 conntrack ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ambit
ENV NODE_ENV=production
COPY --from=builder /src/package.json ./package.json
COPY --from=builder /src/node_modules ./node_modules
COPY --from=builder /src/dist ./dist
COPY --from=builder /src/lib/native/build ./lib/native/build
COPY --from=builder /src/cli/local/demo ./cli/local/demo
# The control plane runs as this user (uid 1337, as Istio's); the CNI agent and ztunnel
# DaemonSets run as root with only the capabilities they need (see helm/).
RUN groupadd --system --gid 1337 ambit \
 && useradd --system --uid 1337 --gid 1337 --home-dir /var/lib/ambit --shell /usr/sbin/nologin ambit \
 && mkdir -p /var/lib/ambit \
 && chown ambit:ambit /var/lib/ambit \
 && ln -s /opt/ambit/dist/cli/main.js /usr/local/bin/ambit
USER 1337:1337
EXPOSE 15012 15014 15021
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
