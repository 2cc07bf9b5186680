// fauxqs on FAUXQS_PORT, request logging off; stops on SIGTERM/SIGINT.
// Started by scripts/bench/pipeline.py --sqs-server fauxqs (installed into .local/bench-fauxqs).
import { startFauxqs } from "fauxqs";

const server = await startFauxqs({ port: Number(process.env.FAUXQS_PORT ?? 4566), logger: false });
console.log(`fauxqs SQS listening on ${server.address}`);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
