"""The simulated city: places, devices, the scripted Tongji incident, and the producers that
send it to Kafka (the demo, tests and load runs)."""
