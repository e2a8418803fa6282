# jit-broker container image. Production sets DATABASE_URL, BROKER_MASTER_KEY, WEBHOOK_SECRET.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
COPY policies ./policies
USER node
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]
