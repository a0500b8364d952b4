# pi0_ros: every target sets the workspace up first (idempotent, seconds when done).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source tools/env.sh
DURATION ?= 30
EMBODIMENT ?= ur5e
PYTEST_ARGS ?=

.PHONY: help setup demo test lint bench clean

help:  ## list the targets
	@grep -E '^[a-z_-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup:  ## create .venv, install ROS 2 + Python deps, build missing vendor interfaces, colcon build the workspace
	@bash tools/setup.sh

demo: setup  ## run the UR5e stack in simulation with the default policy (DURATION=30 seconds)
	@$(ENV) && python -m pi0_bringup.run_stack --embodiment $(EMBODIMENT) --sim --duration $(DURATION) \
		--episode-seconds 10 --instructions 'reach the red block;reach the blue block' \
		--plot out/demo_$(EMBODIMENT).png

test: setup  ## run the whole test suite
	@$(ENV) && python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff
	@$(ENV) && ruff check .

clean:  ## remove build products (keeps .venv)
	rm -rf build install install_vendor log out
