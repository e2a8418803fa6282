# jit-broker container image. Production sets DATABASE_URL, BROKER_MASTER_KEY, WEBHOOK_SECRET.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY sdk/package.json ./sdk/
RUN npm ci --ignore-scripts
COPY scripts ./scripts
COPY sdk/src ./sdk/src
COPY src ./src
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY sdk/package.json ./sdk/
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The compiled SDK the CLI (dist/cli) imports as @jit-broker/sdk.
COPY --from=build /app/sdk/dist ./sdk/dist
COPY bin ./bin
COPY tsconfig.json ./
# The TypeScript stays for `npm run keys:rotate` and the other script aliases, run by tsx.
COPY sdk/src ./sdk/src
COPY src ./src
COPY migrations ./migrations
COPY policies ./policies
USER node
EXPOSE 8080
CMD ["bin/jit-broker", "serve"]
