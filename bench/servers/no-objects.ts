/** The module of the workers bench gateways: they register nothing, every object is on the host behind NATS. */
export default (): void => {};
