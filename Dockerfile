# One image for the API and the workers.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY service ./service
COPY workers ./workers
COPY mlengine ./mlengine
COPY migrations ./migrations
RUN pip install --no-cache-dir -c constraints.txt .
ENV DESCENT_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["descent", "api", "--host", "0.0.0.0"]
