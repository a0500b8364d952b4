from glob import glob

from setuptools import find_packages, setup

package_name = 'pi0_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description='Launch files, per-embodiment configuration, the stack specification, the process runner and tools.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'run_stack = pi0_bringup.run_stack:main',
            'lifecycle_manager = pi0_bringup.entry_points:lifecycle_manager',
        ],
    },
)
