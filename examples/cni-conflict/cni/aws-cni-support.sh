#!/bin/bash
# copied by aws-node; not a CNI config
