# The image the detector, producer and trainer services of compose.yml run; installed as the README does.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY producer ./producer
COPY detector ./detector
COPY trainer ./trainer
COPY schemas ./schemas
RUN pip install --no-cache-dir -e .
ENV DETECTOR_REPORTS_DIR=/reports DETECTOR_DATA_DIR=/state
CMD ["python", "-m", "detector"]
