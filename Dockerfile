# Settee's sync server in a small image: `docker build -t settee .`, then
#   docker run -p 5984:5984 -v settee-data:/data -e SETTEE_ADMIN=admin:CHANGE-ME settee
# See docs/deploy.md. Not built in CI (the machines have no Docker); keep it simple and reviewed.

# Build: the TypeScript compiled, better-sqlite3's native module compiled for this image's Node.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

# Run: no compilers, no sources, no npm cache; a user without privileges.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY ui ./ui
RUN mkdir /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 5984
# The slim image has no curl: Node's fetch asks /_up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5984/_up').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Listens on every interface of the container; the admin comes from $SETTEE_ADMIN or
# $SETTEE_ADMIN_FILE (a Docker secret), else one is generated and its password printed once.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=1024", "dist/cli/main.js", "serve", "--host", "0.0.0.0", "--port", "5984", "--data", "/data"]
