# jit-broker container image. Production sets DATABASE_URL, BROKER_MASTER_KEY, WEBHOOK_SECRET.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY tsconfig.json ./
# The TypeScript stays for the operator CLIs (npm run keys:rotate, aws:emergency-deny), run by tsx.
COPY src ./src
COPY migrations ./migrations
COPY policies ./policies
USER node
EXPOSE 8080
CMD ["bin/jit-broker"]
