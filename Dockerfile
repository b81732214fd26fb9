FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
RUN pip install --no-cache-dir . && useradd --system ttledger
USER ttledger
ENV TTLEDGER_HOST=0.0.0.0 TTLEDGER_PORT=8080 TTLEDGER_LOG_FORMAT=json
EXPOSE 8080
CMD ["ttledger", "serve"]
