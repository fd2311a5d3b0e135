# One image for every Meterstream process; docker-compose.yml picks the entry point per service.
FROM node:24.22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY schemas schemas
COPY emulators emulators
COPY services services
RUN npm ci --no-audit --no-fund && npx tsc -b && npm prune --omit=dev

FROM node:24.22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
COPY plans plans
USER node
# Overridden per service in docker-compose.yml, e.g. services/ingest/dist/main.js.
CMD ["node", "emulators/aws/dist/main.js"]
